"""Request and response bodies. Requests forbid unknown fields so typos fail loudly.

Every text field of a request is one of ``Text``, ``Prose`` or ``Line``: the domain's one
text rule (``domain/text.py``: no NUL, no lone surrogate; no bidirectional controls in
prose; nothing of that and no control character in a line). WebSocket frames are
validated by these same models (``SendFrame`` is a ``MessageIn``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from qunzu.domain.models import (
    Group,
    GroupCategory,
    GroupRole,
    JoinPolicy,
    Membership,
)
from qunzu.domain.text import TextKind, text_problem
from qunzu.services.threads import References

# Ids are at most 2**62: inside a signed 64-bit column on every database, with room.
MAX_ID = 2**62
IdInt = Annotated[int, Field(ge=1, le=MAX_ID)]
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _text_of(kind: TextKind) -> AfterValidator:
    def check(value: str) -> str:
        problem = text_problem(value, kind)
        if problem is not None:
            raise PydanticCustomError(
                "invalid_text", "Text cannot contain {problem}", {"problem": problem}
            )
        return value

    return AfterValidator(check)


Text = Annotated[str, _text_of(TextKind.text)]
Prose = Annotated[str, _text_of(TextKind.prose)]
Line = Annotated[str, _text_of(TextKind.line)]


class In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response body read from a domain object's attributes: its fields are named once,
    here, and ``Out.of(obj)`` fills them (enumerations are sent as their values)."""

    model_config = ConfigDict(from_attributes=True, use_enum_values=True)

    @classmethod
    def of(cls, obj: Any) -> Self:
        return cls.model_validate(obj)


# ---- requests ------------------------------------------------------------------------------


class RegisterIn(In):
    handle: Line = Field(min_length=1, max_length=64, examples=["li_wei"])
    password: Text = Field(min_length=1, max_length=256, examples=["correct horse battery"])
    # Text, not Line: the display-name rule (services/accounts.py) is stricter still, and
    # answers control and format characters with its own invalid_display_name.
    display_name: Text | None = Field(default=None, max_length=128, examples=["李伟"])


class LoginIn(In):
    handle: Line = Field(min_length=1, max_length=64, examples=["li_wei"])
    password: Text = Field(min_length=1, max_length=256, examples=["correct horse battery"])
    label: Line = Field(default="", max_length=64, examples=["laptop"])


class TokenIn(In):
    label: Line = Field(default="", max_length=64)


class ProfileIn(In):
    display_name: Text = Field(min_length=1, max_length=128)  # see RegisterIn


class IdentityIn(In):
    legal_name: Line = Field(min_length=1, max_length=64)
    resident_id: Line = Field(min_length=1, max_length=32)
    phone: Line = Field(min_length=1, max_length=32)


class GroupIn(In):
    name: Line = Field(min_length=1, max_length=128)
    category: GroupCategory
    join_policy: JoinPolicy = JoinPolicy.invite_only
    discoverable: bool = False
    rules: Prose | None = Field(default=None, max_length=10_000)


class GroupPatchIn(In):
    name: Line | None = Field(default=None, min_length=1, max_length=128)
    join_policy: JoinPolicy | None = None
    discoverable: bool | None = None


class RulesIn(In):
    text: Prose = Field(min_length=1, max_length=10_000)


class RulesAcceptIn(In):
    version: int = Field(ge=1, le=MAX_ID)


class JoinIn(In):
    rules_version: int | None = Field(default=None, ge=0, le=MAX_ID)


class JoinRequestIn(In):
    note: Text = Field(default="", max_length=280)
    rules_version: int | None = Field(default=None, ge=0, le=MAX_ID)


class InviteIn(In):
    handle: Line = Field(min_length=1, max_length=64)


class RoleIn(In):
    role: Literal["admin", "member"]


class RemoveIn(In):
    reason: Text = Field(default="", max_length=500)
    bar: bool = False  # bar the account from rejoining until a manager lifts it


class OfferIn(In):
    to_account_id: IdInt


class MessageIn(In):
    """A send, over HTTP or as a WebSocket ``send`` frame. Its length limit is the
    rulebook's ``max_message_chars`` (``domain.posting.check_message``), which can change
    with the rulebook version in force, so it is not repeated here."""

    body: Text = Field(min_length=1)
    # Its own rule (1 to 64 of A-Za-z0-9._:-, domain.posting) is stricter than any text rule.
    client_txn_id: str
    # Upload ids from POST /v1/uploads (the rulebook's uploads.max_per_message applies;
    # 50 here only bounds the request).
    attachments: list[IdInt] = Field(default_factory=list, max_length=50)
    # Conversation (all optional): the seq of the message in this group it answers, the
    # members it mentions, and @all (owner, or admins with the mention_all right).
    reply_to: IdInt | None = None
    mentions: list[IdInt] = Field(default_factory=list, max_length=500)
    mention_all: bool = False

    def references(self) -> References:
        return References(self.reply_to, tuple(self.mentions), self.mention_all)


class DirectIn(In):
    handle: Line = Field(min_length=1, max_length=64)


class IdentityReadIn(In):
    account_id: IdInt
    # No min_length: the service judges the reason, so "" and "why" get the same reason_required.
    reason: Text = Field(max_length=500)


# ---- WebSocket frames from the client (api/realtime.py) ----------------------------------

# A ``ref`` is the client's own tag, echoed in the answer: a 64-bit integer or a short line.
FrameRef = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)] | Annotated[Line, Field(max_length=64)]


class PingFrame(In):
    type: Literal["ping"]
    ref: FrameRef | None = None


class SendFrame(MessageIn):
    """``POST /v1/groups/{group_id}/messages`` as a frame: the same model, plus where."""

    type: Literal["send"]
    ref: FrameRef | None = None
    group_id: IdInt


# ---- responses -----------------------------------------------------------------------------


class AccountOut(Out):
    id: int
    handle: str
    display_name: str
    identity_verified: bool
    created_at: datetime


class MeOut(AccountOut):
    platform_role: str | None
    second_factor: bool = False


class TokenOut(BaseModel):
    token: str
    token_id: int
    expires_at: datetime
    account: AccountOut | None = None


class TokenInfoOut(Out):
    id: int
    label: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    kind: str = "api"  # "api" (bearer token) or "web" (a browser session)
    address: str = ""  # where it was last used
    user_agent: str = ""
    last_used_at: datetime | None = None


class PasswordChangeIn(In):
    current_password: Text = Field(min_length=1, max_length=256)
    new_password: Text = Field(min_length=1, max_length=256)
    revoke_other_sessions: bool = False


class PasswordChangeOut(Out):
    revoked_sessions: int


class ResetRequestIn(In):
    handle: Line = Field(min_length=1, max_length=64)


class ResetConfirmIn(In):
    handle: Line = Field(min_length=1, max_length=64)
    code: Line = Field(min_length=1, max_length=16)
    new_password: Text = Field(min_length=1, max_length=256)


class OfficerResetIn(In):
    reason: Text = Field(min_length=1, max_length=1000)


class OfficerResetOut(Out):
    temporary_password: str


class RevokedOut(Out):
    revoked: int


class MaskedIdentityOut(BaseModel):
    legal_name: str
    resident_id: str
    phone: str
    verified: bool
    verifier: str
    submitted_at: datetime


class FullIdentityOut(BaseModel):
    account_id: int
    legal_name: str
    resident_id: str
    phone: str
    verified: bool
    verifier: str


class MembershipOut(Out):
    group_id: int
    account_id: int
    role: GroupRole
    state: str
    joined_at: datetime
    joined_seq: int
    left_seq: int | None
    accepted_rules_version: int


class GroupOut(BaseModel):
    """The group profile: the Art. 8 information page fields, and the viewer's standing."""

    id: int
    number: int
    kind: str
    name: str
    category: GroupCategory | None
    join_policy: JoinPolicy
    discoverable: bool
    state: str
    member_count: int
    owner_id: int | None
    owner_display_name: str | None = None
    created_at: datetime
    last_seq: int
    rules_version: int
    my_role: GroupRole | None = None
    my_accepted_rules_version: int | None = None
    tier: str | None = Field(default=None, description="private, small, large or public (Art. 7)")
    activity: str | None = Field(default=None, description="dormant, normal or busy")
    messages_last_day: int | None = None
    last_activity_at: datetime | None = None
    info_page: dict[str, Any] | None = Field(
        default=None,
        description="Art. 8 information page of larger groups: name, member count, category, "
        "owner's display name.",
    )
    unread: int | None = Field(default=None, description="Entries past your read cursor.")
    mentions: int | None = Field(
        default=None, description="Of those, messages that mention you or @all."
    )

    @classmethod
    def of(
        cls, g: Group, owner_display_name: str | None = None, me: Membership | None = None
    ) -> GroupOut:
        active = me is not None and me.is_active
        return cls(
            id=g.id,
            number=g.number,
            kind=g.kind.value,
            name=g.name,
            category=g.category,
            join_policy=g.join_policy,
            discoverable=g.discoverable,
            state=g.state.value,
            member_count=g.member_count,
            owner_id=g.owner_id,
            owner_display_name=owner_display_name,
            created_at=g.created_at,
            last_seq=g.last_seq,
            rules_version=g.rules_version,
            my_role=me.role if me is not None and active else None,
            my_accepted_rules_version=me.accepted_rules_version
            if me is not None and active
            else None,
        )


def group_out_of_view(view: Any) -> GroupOut:
    """A group profile with its tier, activity class and, for larger groups, the Art. 8 page."""
    out = GroupOut.of(view.group, view.owner_display_name, view.my_membership)
    out.tier = view.tier
    out.activity = view.activity
    out.messages_last_day = view.messages_last_day
    out.last_activity_at = view.last_activity_at
    if view.shows_info_page:
        out.info_page = {
            "name": view.group.name,
            "member_count": view.group.member_count,
            "category": view.group.category.value if view.group.category else None,
            "owner_display_name": view.owner_display_name,
            "number": view.group.number,
        }
    return out


class MemberOut(BaseModel):
    account_id: int
    handle: str
    display_name: str
    role: GroupRole
    joined_at: datetime


class RulesOut(BaseModel):
    group_id: int
    version: int
    text: str
    set_by: int
    set_at: datetime


class InvitationOut(Out):
    id: int
    group_id: int
    inviter_id: int
    invitee_id: int
    state: str
    created_at: datetime
    expires_at: datetime


class JoinRequestOut(Out):
    id: int
    group_id: int
    account_id: int
    note: str
    state: str
    rules_version: int
    created_at: datetime
    decided_by: int | None


class OfferOut(Out):
    id: int
    group_id: int
    from_id: int
    to_id: int
    state: str
    created_at: datetime


class EntryOut(Out):
    group_id: int
    seq: int
    kind: str
    sender_id: int | None
    body: str | None
    client_txn_id: str | None
    data: dict[str, Any]
    created_at: datetime


class HistoryOut(BaseModel):
    entries: list[EntryOut]
    first_visible_seq: int
    last_visible_seq: int


class AuditVerifyOut(BaseModel):
    ok: bool
    checked: int
    expected: int | None = Field(description="Entries the sealed head says the chain holds.")
    first_broken_id: int | None
    reason: str


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor_id: int | None = Field(description="The acting account; 0 is the system.")
    action: str
    subject: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class HealthOut(BaseModel):
    status: Literal["ok"]
    version: str


class JobOut(BaseModel):
    name: str
    every_hours: float | None = Field(description="None: not scheduled, run only on demand.")
    next_due_at: datetime | None = Field(
        description="None: at the scheduler's next check (never run), or never (not scheduled)."
    )
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: Literal["running", "ok", "failed"] | None
    last_via: str | None = Field(description="schedule or cli")
    last_node: str | None
    last_detail: dict[str, Any] = Field(description="What the run did (counts), or its error.")


class PlatformStatusOut(BaseModel):
    """What runs on the node that answered."""

    version: str
    node: str
    storage: str = Field(description="sqlite on-loop, sqlite thread or postgresql (asyncpg).")
    websocket_protocol: str = Field(description="uvicorn's WebSocket implementation.")
    direct_writes: bool = Field(description="Live events written straight to sockets.")
    websocket_deflate: str = Field(
        description="permessage-deflate for clients that ask: per-message (no context "
        "takeover), context-takeover (the library's own offer) or off."
    )
    streams_direct: int = Field(description="Event streams opened with direct writes.")
    streams_asgi: int = Field(description="Event streams opened on the ASGI path.")
    bus: str
    rulebook_version: str
    jobs_enabled: bool = Field(description="The periodic jobs run on a schedule here.")
    jobs: list[JobOut]
