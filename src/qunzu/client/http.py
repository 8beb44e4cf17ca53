"""Async HTTP client for the qunzu API (httpx). Every method maps to one endpoint."""

from __future__ import annotations

import uuid
from typing import Any

import httpx


class QunzuAPIError(Exception):
    """A problem+json answer: ``status``, stable ``code``, human ``detail``, full ``problem``."""

    def __init__(self, status: int, code: str, detail: str, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail, self.problem = status, code, detail, problem


class QunzuClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 30.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.pending_challenge: str | None = None
        self.account: dict[str, Any] | None = None
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            base_url=self.base_url, transport=transport, timeout=timeout
        )

    async def __aenter__(self) -> QunzuClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    def with_token(self, token: str) -> QunzuClient:
        """Another client for another account, sharing this one's connection pool."""
        return QunzuClient(self.base_url, token, http=self._http)

    # ---- plumbing ----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        hdrs = dict(headers or {})
        if self.token:
            hdrs["Authorization"] = f"Bearer {self.token}"
        if params:
            params = {k: v for k, v in params.items() if v is not None}
        response = await self._http.request(
            method, path, json=json, params=params, content=content, headers=hdrs
        )
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"code": f"http_{response.status_code}", "detail": response.text}
            raise QunzuAPIError(
                response.status_code,
                str(problem.get("code", f"http_{response.status_code}")),
                str(problem.get("detail", "")),
                problem,
            )
        return response

    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.request(method, path, **kw)
        return response.json() if response.content else None

    # ---- accounts ----------------------------------------------------------------------

    async def register(
        self, handle: str, password: str, display_name: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"handle": handle, "password": password}
        if display_name is not None:
            body["display_name"] = display_name
        return await self._json("POST", "/v1/accounts", json=body)

    async def login(self, handle: str, password: str, label: str = "") -> dict[str, Any]:
        """Log in and keep the token for later calls. An account with a second factor
        answers with a challenge instead (``second_factor_required``), kept for
        ``second_step``."""
        data = await self._json(
            "POST", "/v1/sessions", json={"handle": handle, "password": password, "label": label}
        )
        if data.get("second_factor_required"):
            self.pending_challenge = data["challenge"]
            return data
        self.token = data["token"]
        self.account = data["account"]
        return data

    async def second_step(
        self, code: str | None = None, recovery_code: str | None = None
    ) -> dict[str, Any]:
        """Finish a log-in with an authenticator code or a recovery code."""
        body: dict[str, Any] = {"challenge": self.pending_challenge}
        if code is not None:
            body["code"] = code
        if recovery_code is not None:
            body["recovery_code"] = recovery_code
        data = await self._json("POST", "/v1/sessions/second-factor", json=body)
        self.pending_challenge = None
        self.token = data["token"]
        self.account = data["account"]
        return data

    async def security(self) -> dict[str, Any]:
        """This account's second factors and how many recovery codes are left."""
        return await self._json("GET", "/v1/me/security")

    async def start_totp(self, label: str = "") -> dict[str, Any]:
        return await self._json("POST", "/v1/me/second-factors/totp", json={"label": label})

    async def confirm_totp(self, factor_id: int, code: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/me/second-factors/totp/{factor_id}/confirm", json={"code": code}
        )

    async def remove_factor(
        self, factor_id: int, code: str | None = None, password: str | None = None
    ) -> None:
        body = {k: v for k, v in (("code", code), ("password", password)) if v is not None}
        await self.request("POST", f"/v1/me/second-factors/{factor_id}/remove", json=body)

    async def regenerate_recovery_codes(
        self, code: str | None = None, password: str | None = None
    ) -> list[str]:
        body = {k: v for k, v in (("code", code), ("password", password)) if v is not None}
        data = await self._json("POST", "/v1/me/recovery-codes", json=body)
        return list(data["recovery_codes"])

    async def logout(self) -> None:
        await self.request("DELETE", "/v1/sessions/current")
        self.token = None

    async def me(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/me")

    async def update_me(self, display_name: str) -> dict[str, Any]:
        return await self._json("PATCH", "/v1/me", json={"display_name": display_name})

    async def profile(self, handle: str) -> dict[str, Any]:
        """Another account's public profile (handle, display name, verified)."""
        return await self._json("GET", f"/v1/accounts/{handle}")

    async def tokens(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/tokens")

    async def issue_token(self, label: str = "") -> dict[str, Any]:
        return await self._json("POST", "/v1/me/tokens", json={"label": label})

    async def revoke_token(self, token_id: int) -> None:
        await self.request("DELETE", f"/v1/me/tokens/{token_id}")

    async def submit_identity(
        self, legal_name: str, resident_id: str, phone: str
    ) -> dict[str, Any]:
        return await self._json(
            "POST",
            "/v1/me/identity",
            json={"legal_name": legal_name, "resident_id": resident_id, "phone": phone},
        )

    async def my_identity(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/me/identity")

    # ---- groups ------------------------------------------------------------------------

    async def create_group(
        self,
        name: str,
        category: str,
        join_policy: str = "invite-only",
        discoverable: bool = False,
        rules: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": name,
            "category": category,
            "join_policy": join_policy,
            "discoverable": discoverable,
        }
        if rules is not None:
            body["rules"] = rules
        return await self._json("POST", "/v1/groups", json=body)

    async def group(self, group_id: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/groups/{group_id}")

    async def group_by_number(self, number: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/groups/by-number/{number}")

    async def search_groups(
        self, q: str = "", limit: int = 20, offset: int = 0
    ) -> list[dict[str, Any]]:
        return await self._json(
            "GET", "/v1/groups", params={"q": q, "limit": limit, "offset": offset}
        )

    async def my_groups(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/groups")

    async def update_group(self, group_id: int, **changes: Any) -> dict[str, Any]:
        return await self._json("PATCH", f"/v1/groups/{group_id}", json=changes)

    async def dissolve_group(self, group_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/groups/{group_id}/dissolve")

    async def rules(self, group_id: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/groups/{group_id}/rules")

    async def set_rules(self, group_id: int, text: str) -> dict[str, Any]:
        return await self._json("PUT", f"/v1/groups/{group_id}/rules", json={"text": text})

    async def accept_rules(self, group_id: int, version: int) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/groups/{group_id}/rules/accept", json={"version": version}
        )

    async def members(
        self, group_id: int, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        return await self._json(
            "GET", f"/v1/groups/{group_id}/members", params={"limit": limit, "offset": offset}
        )

    async def set_role(self, group_id: int, account_id: int, role: str) -> dict[str, Any]:
        return await self._json(
            "PUT", f"/v1/groups/{group_id}/members/{account_id}/role", json={"role": role}
        )

    async def remove_member(
        self, group_id: int, account_id: int, reason: str = "", bar: bool = False
    ) -> dict[str, Any]:
        """Remove a member; ``bar=True`` also bars them from rejoining until lifted."""
        return await self._json(
            "POST",
            f"/v1/groups/{group_id}/members/{account_id}/remove",
            json={"reason": reason, "bar": bar},
        )

    async def lift_bar(self, group_id: int, account_id: int) -> None:
        await self.request("DELETE", f"/v1/groups/{group_id}/bars/{account_id}")

    async def leave(self, group_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/groups/{group_id}/leave")

    async def join(self, group_id: int, rules_version: int | None = None) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/groups/{group_id}/join", json={"rules_version": rules_version}
        )

    async def invite(self, group_id: int, handle: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/groups/{group_id}/invitations", json={"handle": handle}
        )

    async def invitations(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/invitations")

    async def accept_invitation(
        self, invitation_id: int, rules_version: int | None = None
    ) -> dict[str, Any]:
        return await self._json(
            "POST",
            f"/v1/invitations/{invitation_id}/accept",
            json={"rules_version": rules_version},
        )

    async def decline_invitation(self, invitation_id: int) -> None:
        await self.request("POST", f"/v1/invitations/{invitation_id}/decline")

    async def request_join(
        self, group_id: int, note: str = "", rules_version: int | None = None
    ) -> dict[str, Any]:
        return await self._json(
            "POST",
            f"/v1/groups/{group_id}/join-requests",
            json={"note": note, "rules_version": rules_version},
        )

    async def join_requests(self, group_id: int) -> list[dict[str, Any]]:
        return await self._json("GET", f"/v1/groups/{group_id}/join-requests")

    async def approve_join(self, request_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/join-requests/{request_id}/approve")

    async def deny_join(self, request_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/join-requests/{request_id}/deny")

    async def offer_ownership(self, group_id: int, to_account_id: int) -> dict[str, Any]:
        return await self._json(
            "POST",
            f"/v1/groups/{group_id}/ownership-offers",
            json={"to_account_id": to_account_id},
        )

    async def accept_ownership(self, offer_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/ownership-offers/{offer_id}/accept")

    async def decline_ownership(self, offer_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/ownership-offers/{offer_id}/decline")

    # ---- messages ----------------------------------------------------------------------

    async def send(
        self,
        group_id: int,
        body: str,
        client_txn_id: str | None = None,
        attachments: list[int] | None = None,
        *,
        reply_to: int | None = None,
        mentions: list[int] | None = None,
        mention_all: bool = False,
    ) -> dict[str, Any]:
        """Post a message; pass the same client_txn_id when retrying so it is not duplicated.
        ``attachments`` are upload ids; ``reply_to`` is the seq of the message answered;
        ``mentions`` are account ids."""
        payload: dict[str, Any] = {"body": body, "client_txn_id": client_txn_id or uuid.uuid4().hex}
        if attachments:
            payload["attachments"] = attachments
        if reply_to is not None:
            payload["reply_to"] = reply_to
        if mentions:
            payload["mentions"] = mentions
        if mention_all:
            payload["mention_all"] = True
        return await self._json("POST", f"/v1/groups/{group_id}/messages", json=payload)

    # ---- conversation: recall, pins, nicknames ------------------------------------------

    async def recall(self, group_id: int, seq: int) -> None:
        """Recall your own message within the rulebook's window (撤回)."""
        await self.request("POST", f"/v1/groups/{group_id}/messages/{seq}/recall")

    async def pins(self, group_id: int) -> list[dict[str, Any]]:
        return await self._json("GET", f"/v1/groups/{group_id}/pins")

    async def pin(self, group_id: int, seq: int) -> None:
        await self.request("PUT", f"/v1/groups/{group_id}/pins/{seq}")

    async def unpin(self, group_id: int, seq: int) -> None:
        await self.request("DELETE", f"/v1/groups/{group_id}/pins/{seq}")

    async def set_nickname(self, group_id: int, nickname: str) -> dict[str, Any]:
        """Your nickname in this group (群昵称); an empty text clears it."""
        return await self._json(
            "PUT", f"/v1/groups/{group_id}/nickname", json={"nickname": nickname}
        )

    async def nicknames(self, group_id: int, account_ids: list[int]) -> dict[str, str]:
        return await self._json(
            "GET", f"/v1/groups/{group_id}/nicknames", params={"ids": account_ids}
        )

    async def upload(
        self, name: str, content: bytes, content_type: str = "application/octet-stream"
    ) -> dict[str, Any]:
        """Upload a file (reference its ``id`` in ``send(..., attachments=[id])``)."""
        return await self._json(
            "POST",
            "/v1/uploads",
            params={"name": name},
            content=content,
            headers={"content-type": content_type},
        )

    async def upload_info(self, upload_id: int) -> dict[str, Any]:
        """An upload you may see, with signed ``links`` to its content and thumbnail."""
        return await self._json("GET", f"/v1/uploads/{upload_id}")

    async def history(
        self,
        group_id: int,
        after: int | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        return await self._json(
            "GET",
            f"/v1/groups/{group_id}/messages",
            params={"after": after, "before": before, "limit": limit},
        )

    async def search(
        self,
        q: str,
        group: int | None = None,
        before: int | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """Search messages in your groups: ``results`` newest first and ``next_before``."""
        return await self._json(
            "GET",
            "/v1/search",
            params={"q": q, "group": group, "before": before, "limit": limit},
        )

    async def open_direct(self, handle: str) -> dict[str, Any]:
        return await self._json("POST", "/v1/direct", json={"handle": handle})

    # ---- governance: rulebook and credit ------------------------------------------------

    async def rulebook(self, at: str | None = None) -> dict[str, Any]:
        return await self._json("GET", "/v1/rulebook", params={"at": at})

    async def rulebook_versions(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/rulebook/versions")

    async def credit(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/me/credit")

    async def lock_level(self, account_id: int, level: int | None, reason: str) -> dict[str, Any]:
        return await self._json(
            "POST",
            "/v1/platform/credit-locks",
            json={"account_id": account_id, "level": level, "reason": reason},
        )

    # ---- reports, sanctions, appeals ---------------------------------------------------

    async def report(
        self,
        group_id: int,
        kind: str,
        category: str,
        statement: str = "",
        seq: int | None = None,
        account_id: int | None = None,
        extra_seqs: list[int] | None = None,
    ) -> dict[str, Any]:
        """Report a message (kind="message", seq=...), a member (account_id=...) or a group."""
        target: dict[str, Any] = {"kind": kind}
        if seq is not None:
            target["seq"] = seq
        if account_id is not None:
            target["account_id"] = account_id
        return await self._json(
            "POST",
            "/v1/reports",
            json={
                "group_id": group_id,
                "target": target,
                "category": category,
                "statement": statement,
                "extra_seqs": extra_seqs or [],
            },
        )

    async def my_reports(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/reports")

    async def owner_notices(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/owner-notices")

    async def my_sanctions(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/sanctions")

    async def statement_of_reasons(self, sanction_id: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/sanctions/{sanction_id}")

    async def appeal(self, sanction_id: int, statement: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/sanctions/{sanction_id}/appeal", json={"statement": statement}
        )

    async def acknowledge_warning(self, sanction_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/sanctions/{sanction_id}/acknowledge")

    async def request_review(self, case_id: int, statement: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/cases/{case_id}/review-request", json={"statement": statement}
        )

    async def cases(self, **filters: Any) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/platform/cases", params=filters)

    async def case_file(self, case_id: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/platform/cases/{case_id}")

    async def claim_case(self, case_id: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/platform/cases/{case_id}/claim")

    async def escalate_case(self, case_id: int, note: str = "") -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/platform/cases/{case_id}/escalate", json={"note": note}
        )

    async def decide_case(
        self,
        case_id: int,
        decision: str,
        sanctions: list[dict[str, Any]] | None = None,
        note: str = "",
        manifestly_unfounded: bool = False,
    ) -> dict[str, Any]:
        return await self._json(
            "POST",
            f"/v1/platform/cases/{case_id}/decide",
            json={
                "decision": decision,
                "sanctions": sanctions or [],
                "note": note,
                "manifestly_unfounded": manifestly_unfounded,
            },
        )

    async def lift_sanction(self, sanction_id: int, reason: str) -> dict[str, Any]:
        return await self._json(
            "POST", f"/v1/platform/sanctions/{sanction_id}/lift", json={"reason": reason}
        )

    async def pending_appeals(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/platform/appeals")

    async def decide_appeal(self, appeal_id: int, overturn: bool, note: str = "") -> dict[str, Any]:
        return await self._json(
            "POST",
            f"/v1/platform/appeals/{appeal_id}/decide",
            json={"overturn": overturn, "note": note},
        )

    async def export_regulator(self, start: str, end: str, fmt: str = "jsonl") -> str:
        response = await self.request(
            "GET",
            "/v1/platform/exports/regulator",
            params={"from": start, "to": end, "format": fmt},
        )
        return response.text

    async def transparency(self, start: str, end: str) -> dict[str, Any]:
        return await self._json(
            "GET", "/v1/platform/transparency", params={"from": start, "to": end}
        )

    # ---- a copy of my data ---------------------------------------------------------------

    async def delete_account(self, password: str, remove_messages: bool = False) -> None:
        body = {"password": password, "remove_messages": remove_messages}
        await self.request("POST", "/v1/me/deletion", json=body)

    async def agreement(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/agreement")

    async def consents(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/consents")

    async def accept_agreement(self, version: int) -> list[dict[str, Any]]:
        return await self._json("POST", "/v1/me/consents", json={"version": version})

    async def request_data_export(self) -> dict[str, Any]:
        return await self._json("POST", "/v1/me/data-exports")

    async def data_export(self, export_id: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/me/data-exports/{export_id}")

    async def download_data_export(self, export_id: int) -> dict[str, Any]:
        """The export's JSON (downloadable once)."""
        path = f"/v1/me/data-exports/{export_id}/download"
        data: dict[str, Any] = (await self.request("GET", path)).json()
        return data

    # ---- requests from the authorities and referrals -----------------------------------

    async def register_access_request(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._json("POST", "/v1/platform/access-requests", json=body)

    async def access_requests(
        self, state: str | None = None, after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        params = {"state": state, "after": after, "limit": limit}
        return await self._json("GET", "/v1/platform/access-requests", params=params)

    async def access_request(self, request_id: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/platform/access-requests/{request_id}")

    async def decide_access_request(
        self, request_id: int, approve: bool, note: str
    ) -> dict[str, Any]:
        body = {"approve": approve, "note": note}
        path = f"/v1/platform/access-requests/{request_id}/decision"
        return await self._json("POST", path, json=body)

    async def close_access_request(self, request_id: int, note: str) -> dict[str, Any]:
        path = f"/v1/platform/access-requests/{request_id}/close"
        return await self._json("POST", path, json={"note": note})

    async def export_access_request(self, request_id: int) -> bytes:
        """The signed zip (manifest.json, manifest.sig, one .jsonl per data class)."""
        path = f"/v1/platform/access-requests/{request_id}/export"
        return (await self.request("POST", path)).content

    async def signing_key(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/platform/signing-key")

    async def referrals(
        self, state: str | None = "open", after: int = 0, limit: int = 100
    ) -> list[dict[str, Any]]:
        params = {"state": state, "after": after, "limit": limit}
        return await self._json("GET", "/v1/platform/referrals", params=params)

    async def close_referral(self, referral_id: int, outcome: str) -> dict[str, Any]:
        path = f"/v1/platform/referrals/{referral_id}/close"
        return await self._json("POST", path, json={"outcome": outcome})

    # ---- owner tools -------------------------------------------------------------------

    async def appoint_admin(
        self, group_id: int, account_id: int, rights: list[str]
    ) -> dict[str, Any]:
        return await self._json(
            "PUT", f"/v1/groups/{group_id}/admins/{account_id}", json={"rights": rights}
        )

    async def remove_message(self, group_id: int, seq: int, reason: str = "") -> None:
        await self.request(
            "POST", f"/v1/groups/{group_id}/messages/{seq}/remove", json={"reason": reason}
        )

    async def mute(
        self, group_id: int, account_id: int, minutes: int, reason: str = ""
    ) -> dict[str, Any]:
        return await self._json(
            "POST",
            f"/v1/groups/{group_id}/members/{account_id}/mute",
            json={"minutes": minutes, "reason": reason},
        )

    async def unmute(self, group_id: int, account_id: int) -> None:
        await self.request("DELETE", f"/v1/groups/{group_id}/members/{account_id}/mute")

    async def mute_all(self, group_id: int, on: bool) -> dict[str, Any]:
        return await self._json("PUT", f"/v1/groups/{group_id}/mute-all", json={"on": on})

    async def slow_mode(self, group_id: int, seconds: int) -> dict[str, Any]:
        return await self._json(
            "PUT", f"/v1/groups/{group_id}/slow-mode", json={"seconds": seconds}
        )

    async def pin_notice(self, group_id: int, text: str) -> dict[str, Any]:
        return await self._json("PUT", f"/v1/groups/{group_id}/notice", json={"text": text})

    async def controls(self, group_id: int) -> dict[str, Any]:
        return await self._json("GET", f"/v1/groups/{group_id}/controls")

    async def mark_read(self, group_id: int, seq: int) -> dict[str, Any]:
        return await self._json("POST", f"/v1/groups/{group_id}/read", json={"seq": seq})

    async def report_up(
        self,
        group_id: int,
        kind: str,
        category: str,
        statement: str = "",
        seq: int | None = None,
        account_id: int | None = None,
        to: str = "platform",
    ) -> dict[str, Any]:
        target: dict[str, Any] = {"kind": kind}
        if seq is not None:
            target["seq"] = seq
        if account_id is not None:
            target["account_id"] = account_id
        return await self._json(
            "POST",
            f"/v1/groups/{group_id}/report-up",
            json={"target": target, "category": category, "statement": statement, "to": to},
        )

    async def duty_ledger(self, group_id: int) -> list[dict[str, Any]]:
        return await self._json("GET", f"/v1/groups/{group_id}/duty-ledger")

    async def owned_groups(self) -> list[dict[str, Any]]:
        return await self._json("GET", "/v1/me/owned-groups")

    async def claim_group(self, group_id: int) -> None:
        await self.request("POST", f"/v1/groups/{group_id}/claim")

    async def assign_owner(self, group_id: int, account_id: int, reason: str) -> None:
        await self.request(
            "POST",
            "/v1/platform/ownership-decisions",
            json={"group_id": group_id, "account_id": account_id, "reason": reason},
        )

    # ---- platform ----------------------------------------------------------------------

    async def read_identity(self, account_id: int, reason: str) -> dict[str, Any]:
        return await self._json(
            "POST",
            "/v1/platform/identity-reads",
            json={"account_id": account_id, "reason": reason},
        )

    async def verify_audit(self) -> dict[str, Any]:
        return await self._json("GET", "/v1/platform/audit/verify")

    async def audit_entries(self, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        return await self._json(
            "GET", "/v1/platform/audit", params={"after": after, "limit": limit}
        )

    async def platform_status(self) -> dict[str, Any]:
        """What runs on the node that answers (admins and auditors)."""
        return await self._json("GET", "/v1/platform/status")

    async def health(self) -> dict[str, Any]:
        return await self._json("GET", "/healthz")

    # ---- real time ---------------------------------------------------------------------

    def events(self, cursors: dict[int, int] | None = None, **kw: Any) -> Any:
        """A resumable event stream for this account (see ``EventStream``)."""
        from qunzu.client.stream import EventStream

        assert self.token, "log in first"
        return EventStream(self.base_url, self.token, cursors=cursors, **kw)
