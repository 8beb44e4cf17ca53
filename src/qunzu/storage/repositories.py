"""SQLAlchemy Core implementations of the repository Protocols in ``services.ports``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from qunzu.domain.models import (
    Account,
    ApiToken,
    Group,
    GroupRules,
    GroupState,
    Membership,
    MembershipState,
    PlatformRole,
    ResetCode,
    TimelineEntry,
)
from qunzu.services.ports import IdentityRecord
from qunzu.storage import convert
from qunzu.storage import tables as t
from qunzu.storage.fastsql import prebuilt
from qunzu.storage.mapping import enum_values, row_values

# Statements on the message path are built once: constructing a statement and its
# cache key costs more than SQLite takes to run it (profiled on do_send_message).
# Authentication: token, account and credit level (0 before the first computation).
_TOKEN_FOR_AUTH = prebuilt(
    select(
        t.api_tokens.c.id.label("tid"),
        t.api_tokens.c.account_id,
        t.api_tokens.c.token_hash,
        t.api_tokens.c.label,
        t.api_tokens.c.created_at.label("tcreated"),
        t.api_tokens.c.expires_at,
        t.api_tokens.c.revoked_at,
        t.api_tokens.c.kind,
        t.api_tokens.c.address,
        t.api_tokens.c.user_agent,
        t.api_tokens.c.last_used_at,
        t.accounts,
        func.coalesce(t.account_credit.c.level, 0).label("credit_level"),
    )
    .join(t.accounts, t.accounts.c.id == t.api_tokens.c.account_id)
    .outerjoin(t.account_credit, t.account_credit.c.account_id == t.api_tokens.c.account_id)
    .where(t.api_tokens.c.token_hash == bindparam("token_hash"))
)
_GROUP_BY_ID = prebuilt(select(t.groups).where(t.groups.c.id == bindparam("group_id")))
_MEMBERSHIP = prebuilt(
    select(t.memberships).where(
        t.memberships.c.group_id == bindparam("group_id"),
        t.memberships.c.account_id == bindparam("account_id"),
    )
)
_NEXT_SEQ = prebuilt(
    update(t.groups)
    .where(t.groups.c.id == bindparam("group_id"))
    .values(last_seq=t.groups.c.last_seq + 1)
    .returning(t.groups.c.last_seq)
)
_ENTRY_BY_TXN = prebuilt(
    select(t.timeline).where(
        t.timeline.c.sender_id == bindparam("sender_id"),
        t.timeline.c.client_txn_id == bindparam("client_txn_id"),
    )
)
_INSERT_ENTRY = prebuilt(
    t.timeline.insert().values({c: bindparam("v_" + c.key, type_=c.type) for c in t.timeline.c})
)


class _Repo:
    def __init__(self, conn: AsyncConnection) -> None:
        self.c = conn


class SqlAccounts(_Repo):
    async def add(
        self,
        handle: str,
        display_name: str,
        password_hash: str,
        created_at: datetime,
        platform_role: PlatformRole | None = None,
    ) -> Account:
        res = await self.c.execute(
            t.accounts.insert()
            .values(
                handle=handle,
                display_name=display_name,
                password_hash=password_hash,
                created_at=created_at,
                identity_verified=False,
                platform_role=platform_role.value if platform_role else None,
                disabled=False,
            )
            .returning(t.accounts.c.id)
        )
        return Account(
            id=res.scalar_one(),
            handle=handle,
            display_name=display_name,
            created_at=created_at,
            platform_role=platform_role,
        )

    async def get(self, account_id: int) -> Account | None:
        row = (
            await self.c.execute(select(t.accounts).where(t.accounts.c.id == account_id))
        ).first()
        return convert.account(row) if row else None

    async def get_by_handle(self, handle: str) -> Account | None:
        row = (
            await self.c.execute(select(t.accounts).where(t.accounts.c.handle == handle))
        ).first()
        return convert.account(row) if row else None

    async def get_many(self, account_ids: Sequence[int]) -> dict[int, Account]:
        if not account_ids:
            return {}
        rows = await self.c.execute(select(t.accounts).where(t.accounts.c.id.in_(set(account_ids))))
        return {r.id: convert.account(r) for r in rows}

    async def password_hash(self, account_id: int) -> str:
        res = await self.c.execute(
            select(t.accounts.c.password_hash).where(t.accounts.c.id == account_id)
        )
        return str(res.scalar_one())

    async def set_password_hash(self, account_id: int, password_hash: str) -> None:
        await self.update(account_id, password_hash=password_hash)

    async def update(self, account_id: int, **fields: Any) -> None:
        await self.c.execute(
            update(t.accounts).where(t.accounts.c.id == account_id).values(**enum_values(fields))
        )

    async def mark_deleted(self, account_id: int, at: datetime, messages_removed: bool) -> None:
        await self.c.execute(
            t.account_deletions.insert().values(
                account_id=account_id, deleted_at=at, messages_removed=messages_removed
            )
        )

    async def deleted_at(self, account_id: int) -> datetime | None:
        d = t.account_deletions
        return (
            await self.c.execute(select(d.c.deleted_at).where(d.c.account_id == account_id))
        ).scalar()

    async def deleted_before(self, before: datetime, after_id: int, limit: int) -> list[int]:
        d = t.account_deletions
        q = (
            select(d.c.account_id)
            .where(d.c.deleted_at < before, d.c.account_id > after_id)
            .order_by(d.c.account_id)
            .limit(limit)
        )
        return [int(r[0]) for r in await self.c.execute(q)]

    async def accept_agreement(self, account_id: int, version: int, at: datetime) -> None:
        await self.c.execute(
            t.agreement_acceptances.insert().values(
                account_id=account_id, version=version, accepted_at=at
            )
        )

    async def acceptances(self, account_id: int) -> list[tuple[int, datetime]]:
        a = t.agreement_acceptances
        q = select(a.c.version, a.c.accepted_at).where(a.c.account_id == account_id)
        return [(int(r[0]), r[1]) for r in await self.c.execute(q.order_by(a.c.version))]

    async def agreement_version(self, account_id: int) -> int | None:
        res = await self.c.execute(
            select(func.max(t.agreement_acceptances.c.version)).where(
                t.agreement_acceptances.c.account_id == account_id
            )
        )
        version = res.scalar_one_or_none()
        return int(version) if version is not None else None

    async def ids_after(self, after_id: int, limit: int) -> list[int]:
        rows = await self.c.execute(
            select(t.accounts.c.id)
            .where(t.accounts.c.id > after_id)
            .order_by(t.accounts.c.id)
            .limit(limit)
        )
        return [r[0] for r in rows]


class SqlIdentities(_Repo):
    async def get(self, account_id: int) -> IdentityRecord | None:
        row = (
            await self.c.execute(
                select(t.identities).where(t.identities.c.account_id == account_id)
            )
        ).first()
        return IdentityRecord(**row._mapping) if row else None

    async def accounts_with(self, blind_indexes: Sequence[str]) -> list[int]:
        i = t.identities
        q = select(i.c.account_id).where(i.c.blind_index.in_(list(blind_indexes)))
        return [int(r[0]) for r in await self.c.execute(q.order_by(i.c.account_id))]

    async def scan(self, after_account_id: int, limit: int) -> list[IdentityRecord]:
        i = t.identities
        q = select(i).where(i.c.account_id > after_account_id).order_by(i.c.account_id)
        return [IdentityRecord(**r._mapping) for r in await self.c.execute(q.limit(limit))]

    async def count_accounts_with(self, blind_indexes: Sequence[str], excluding: int) -> int:
        res = await self.c.execute(
            select(func.count())
            .select_from(t.identities)
            .where(
                t.identities.c.blind_index.in_(list(blind_indexes)),
                t.identities.c.account_id != excluding,
            )
        )
        return int(res.scalar_one())

    async def delete(self, account_id: int) -> None:
        await self.c.execute(delete(t.identities).where(t.identities.c.account_id == account_id))

    async def put(self, record: IdentityRecord) -> None:
        values = asdict(record)
        await self.c.execute(
            t.identities.delete().where(t.identities.c.account_id == record.account_id)
        )
        await self.c.execute(t.identities.insert().values(**values))


class SqlTokens(_Repo):
    async def add(
        self,
        account_id: int,
        token_hash: str,
        label: str,
        created_at: datetime,
        expires_at: datetime,
        kind: str = "api",
        address: str = "",
        user_agent: str = "",
    ) -> ApiToken:
        res = await self.c.execute(
            t.api_tokens.insert()
            .values(
                account_id=account_id,
                token_hash=token_hash,
                label=label,
                created_at=created_at,
                expires_at=expires_at,
                kind=kind,
                address=address,
                user_agent=user_agent,
                last_used_at=created_at,
            )
            .returning(t.api_tokens.c.id)
        )
        return ApiToken(
            res.scalar_one(),
            account_id,
            token_hash,
            created_at,
            expires_at,
            None,
            label,
            kind,
            address,
            user_agent,
            created_at,
        )

    async def get_for_auth(self, token_hash: str) -> tuple[ApiToken, Account, int] | None:
        row = (await self.c.execute(_TOKEN_FOR_AUTH, {"token_hash": token_hash})).first()
        if row is None:
            return None
        token = ApiToken(
            row.tid,
            row.account_id,
            row.token_hash,
            row.tcreated,
            row.expires_at,
            row.revoked_at,
            row.label,
            row.kind,
            row.address,
            row.user_agent,
            row.last_used_at,
        )
        return token, convert.account(row), int(row.credit_level)

    async def with_account_state(self, token_ids: Sequence[int]) -> list[tuple[ApiToken, bool]]:
        found: list[tuple[ApiToken, bool]] = []
        ids = list(token_ids)
        for start in range(0, len(ids), 500):  # a bounded IN list per statement
            rows = await self.c.execute(
                select(t.api_tokens, t.accounts.c.disabled)
                .join(t.accounts, t.accounts.c.id == t.api_tokens.c.account_id)
                .where(t.api_tokens.c.id.in_(ids[start : start + 500]))
            )
            found.extend((convert.token(r), bool(r.disabled)) for r in rows)
        return found

    async def get(self, token_id: int) -> ApiToken | None:
        row = (
            await self.c.execute(select(t.api_tokens).where(t.api_tokens.c.id == token_id))
        ).first()
        return convert.token(row) if row else None

    async def list_for(self, account_id: int) -> list[ApiToken]:
        rows = await self.c.execute(
            select(t.api_tokens)
            .where(t.api_tokens.c.account_id == account_id)
            .order_by(t.api_tokens.c.id)
        )
        return [convert.token(r) for r in rows]

    async def revoke(self, token_id: int, at: datetime) -> None:
        await self.c.execute(
            update(t.api_tokens).where(t.api_tokens.c.id == token_id).values(revoked_at=at)
        )

    async def revoke_all(self, account_id: int, at: datetime, keep: int | None) -> list[int]:
        live = (t.api_tokens.c.account_id == account_id) & t.api_tokens.c.revoked_at.is_(None)
        if keep is not None:
            live &= t.api_tokens.c.id != keep
        ids = list((await self.c.execute(select(t.api_tokens.c.id).where(live))).scalars())
        if ids:
            await self.c.execute(
                update(t.api_tokens).where(t.api_tokens.c.id.in_(ids)).values(revoked_at=at)
            )
        return ids

    async def touch(self, token_id: int, at: datetime, address: str) -> None:
        await self.c.execute(
            update(t.api_tokens)
            .where(t.api_tokens.c.id == token_id)
            .values(last_used_at=at, address=address[:64])
        )


class SqlResetCodes(_Repo):
    async def add(
        self, account_id: int, code_hash: str, created_at: datetime, expires_at: datetime
    ) -> ResetCode:
        res = await self.c.execute(
            t.password_reset_codes.insert()
            .values(
                account_id=account_id,
                code_hash=code_hash,
                created_at=created_at,
                expires_at=expires_at,
                attempts=0,
            )
            .returning(t.password_reset_codes.c.id)
        )
        return ResetCode(res.scalar_one(), account_id, code_hash, created_at, expires_at)

    async def latest(self, account_id: int) -> ResetCode | None:
        c = t.password_reset_codes.c
        row = (
            await self.c.execute(
                select(t.password_reset_codes)
                .where(c.account_id == account_id)
                .order_by(c.id.desc())
                .limit(1)
            )
        ).first()
        return convert.reset_code(row) if row else None

    async def count_attempt(self, code_id: int) -> None:
        c = t.password_reset_codes.c
        await self.c.execute(
            update(t.password_reset_codes).where(c.id == code_id).values(attempts=c.attempts + 1)
        )

    async def mark_used(self, code_id: int, at: datetime) -> None:
        await self.c.execute(
            update(t.password_reset_codes)
            .where(t.password_reset_codes.c.id == code_id)
            .values(used_at=at)
        )


class SqlGroups(_Repo):
    async def add(self, group: Group, direct_key: str | None = None) -> Group:
        values = row_values(group, exclude=("id",), direct_key=direct_key)
        res = await self.c.execute(t.groups.insert().values(**values).returning(t.groups.c.id))
        gid = res.scalar_one()
        return replace(group, id=gid)

    async def get(self, group_id: int) -> Group | None:
        row = (await self.c.execute(_GROUP_BY_ID, {"group_id": group_id})).first()
        return convert.group(row) if row else None

    async def get_by_number(self, number: int) -> Group | None:
        row = (await self.c.execute(select(t.groups).where(t.groups.c.number == number))).first()
        return convert.group(row) if row else None

    async def get_direct(self, direct_key: str) -> Group | None:
        row = (
            await self.c.execute(select(t.groups).where(t.groups.c.direct_key == direct_key))
        ).first()
        return convert.group(row) if row else None

    async def number_taken(self, number: int) -> bool:
        res = await self.c.execute(select(t.groups.c.id).where(t.groups.c.number == number))
        return res.first() is not None

    async def next_seq(self, group_id: int) -> int:
        # The UPDATE takes the row lock on PostgreSQL, so seq order is commit order per group.
        res = await self.c.execute(_NEXT_SEQ, {"group_id": group_id})
        return int(res.scalar_one())

    async def update(self, group_id: int, **fields: Any) -> None:
        await self.c.execute(
            update(t.groups).where(t.groups.c.id == group_id).values(**enum_values(fields))
        )

    async def add_member_count(self, group_id: int, delta: int) -> None:
        await self.c.execute(
            update(t.groups)
            .where(t.groups.c.id == group_id)
            .values(member_count=t.groups.c.member_count + delta)
        )

    async def search_discoverable(self, query: str, limit: int, offset: int) -> list[Group]:
        stmt = select(t.groups).where(
            t.groups.c.discoverable.is_(True), t.groups.c.state == GroupState.active.value
        )
        if query:
            escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            stmt = stmt.where(t.groups.c.name.ilike(f"%{escaped}%", escape="\\"))
        stmt = stmt.order_by(t.groups.c.member_count.desc(), t.groups.c.id).limit(limit)
        rows = await self.c.execute(stmt.offset(offset))
        return [convert.group(r) for r in rows]


class SqlMemberships(_Repo):
    async def get(self, group_id: int, account_id: int) -> Membership | None:
        row = (
            await self.c.execute(_MEMBERSHIP, {"group_id": group_id, "account_id": account_id})
        ).first()
        return convert.membership(row) if row else None

    async def put(self, membership: Membership) -> None:
        m = t.memberships
        values = row_values(membership, exclude=("group_id", "account_id"))
        res = await self.c.execute(
            update(m)
            .where(m.c.group_id == membership.group_id, m.c.account_id == membership.account_id)
            .values(**values)
        )
        if res.rowcount == 0:
            await self.c.execute(
                m.insert().values(
                    group_id=membership.group_id, account_id=membership.account_id, **values
                )
            )

    async def list_active(self, group_id: int, limit: int, offset: int) -> list[Membership]:
        m = t.memberships
        rows = await self.c.execute(
            select(m)
            .where(m.c.group_id == group_id, m.c.state == MembershipState.active.value)
            .order_by(m.c.joined_seq, m.c.account_id)
            .limit(limit)
            .offset(offset)
        )
        return [convert.membership(r) for r in rows]

    async def active_account_ids(self, group_id: int) -> list[int]:
        m = t.memberships
        rows = await self.c.execute(
            select(m.c.account_id).where(
                m.c.group_id == group_id, m.c.state == MembershipState.active.value
            )
        )
        return [r[0] for r in rows]

    async def for_account(
        self, account_id: int, active_only: bool = True
    ) -> list[tuple[Membership, Group]]:
        m, g = t.memberships, t.groups
        stmt = (
            select(m, *g.c)
            .join(g, g.c.id == m.c.group_id)
            .where(m.c.account_id == account_id)
            .order_by(g.c.id)
        )
        if active_only:
            stmt = stmt.where(m.c.state == MembershipState.active.value)
        rows = await self.c.execute(stmt)
        out = []
        for r in rows:
            mp = r._mapping
            mem = convert.membership(_Row({c.name: mp[m.c[c.name]] for c in m.columns}))
            grp = convert.group(_Row({c.name: mp[g.c[c.name]] for c in g.columns}))
            out.append((mem, grp))
        return out


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


class SqlRules(_Repo):
    async def add(self, rules: GroupRules) -> None:
        await self.c.execute(t.group_rules.insert().values(**asdict(rules)))

    async def get(self, group_id: int, version: int) -> GroupRules | None:
        r = t.group_rules
        row = (
            await self.c.execute(select(r).where(r.c.group_id == group_id, r.c.version == version))
        ).first()
        return convert.rules(row) if row else None


class SqlTimeline(_Repo):
    async def append(self, entry: TimelineEntry) -> None:
        await self.c.execute(
            _INSERT_ENTRY,
            {
                "v_group_id": entry.group_id,
                "v_seq": entry.seq,
                "v_kind": entry.kind.value,
                "v_sender_id": entry.sender_id,
                "v_client_txn_id": entry.client_txn_id,
                "v_body": entry.body,
                "v_data": entry.data or None,
                "v_created_at": entry.created_at,
            },
        )

    async def redact(self, group_id: int, seq: int, data: dict[str, Any]) -> None:
        """Remove a message's text, keeping its place in the timeline and why it went."""
        tl = t.timeline
        await self.c.execute(
            update(tl)
            .where(tl.c.group_id == group_id, tl.c.seq == seq)
            .values(body=None, data=data)
        )

    async def restore(self, group_id: int, seq: int, body: str, data: dict[str, Any]) -> None:
        tl = t.timeline
        await self.c.execute(
            update(tl)
            .where(tl.c.group_id == group_id, tl.c.seq == seq)
            .values(body=body, data=data)
        )

    async def get_by_txn(self, sender_id: int, client_txn_id: str) -> TimelineEntry | None:
        row = (
            await self.c.execute(
                _ENTRY_BY_TXN, {"sender_id": sender_id, "client_txn_id": client_txn_id}
            )
        ).first()
        return convert.entry(row) if row else None

    async def get(self, group_id: int, seq: int) -> TimelineEntry | None:
        tl = t.timeline
        row = (
            await self.c.execute(select(tl).where(tl.c.group_id == group_id, tl.c.seq == seq))
        ).first()
        return convert.entry(row) if row else None

    async def after(
        self, group_id: int, after_seq: int, limit: int, upto: int | None = None
    ) -> list[TimelineEntry]:
        tl = t.timeline
        stmt = select(tl).where(tl.c.group_id == group_id, tl.c.seq > after_seq)
        if upto is not None:
            stmt = stmt.where(tl.c.seq <= upto)
        rows = await self.c.execute(stmt.order_by(tl.c.seq).limit(limit))
        return [convert.entry(r) for r in rows]

    async def before(
        self, group_id: int, before_seq: int, limit: int, floor: int = 0
    ) -> list[TimelineEntry]:
        tl = t.timeline
        rows = await self.c.execute(
            select(tl)
            .where(tl.c.group_id == group_id, tl.c.seq < before_seq, tl.c.seq >= floor)
            .order_by(tl.c.seq.desc())
            .limit(limit)
        )
        return [convert.entry(r) for r in reversed(list(rows))]
