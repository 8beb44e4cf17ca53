"""Schemathesis over our own OpenAPI document, against a real server.

Every operation in ``/openapi.json`` gets a bounded, seeded run (explicit examples, the
coverage phase's boundary and negative cases, then ``MAX_EXAMPLES`` generated cases),
twice: once with no credentials and once as a verified user, so that operations are
exercised past the authentication check (``/v1/platform/*`` gets a platform admin's token,
since everyone else stops at the role check). Each response must:

* not be a 5xx (``not_a_server_error``);
* use a status code the operation documents (``status_code_conformance``);
* use a content type documented for that status (``content_type_conformance``);
* match the schema declared for that status and content type
  (``response_schema_conformance``);
* if it is a 2xx, not echo a NUL character: that would mean one got past validation into
  storage (SQLite keeps it; PostgreSQL refuses it, with a 500).

The whole module runs on SQLite, and again on PostgreSQL when ``QUNZU_TEST_POSTGRES_URL``
is set (as CI does): PostgreSQL is the stricter store and found bugs SQLite hid.

In the authenticated run two hooks steer generation towards real objects: path ids are
swapped for the ids of a group we own, a member, an invitation to us, a join request, an
ownership offer and a spare token, and body fields naming an account get a real handle or
id, each about half of the time, so that handlers get past their ``not_found`` branch. The
body hook also puts a NUL into string fields some of the time. The coverage phase does not
go through these hooks; ``_spare_the_world`` keeps its boundary ids (1 is our first token
and group) from revoking our credential or dissolving the main group.

Not covered: the WebSocket route (``/v1/events``), which is not part of the OpenAPI
document. ``/metrics`` is included: its ``text/plain`` 200 is declared, so the checks hold
for it as they do for JSON.

Deterministic: fixed seed, Hypothesis example database off. ``QZ_SCHEMATHESIS_EXAMPLES``
raises the per-operation budget for a deeper local run; ``QZ_SCHEMATHESIS_TRACE=FILE``
appends a line per request (run, operation, status, response, body) to see what was reached.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from qunzu.client import QunzuClient
from qunzu.domain.models import PlatformRole
from qunzu.services.accounts import do_create_platform_user
from qunzu.services.actor import SYSTEM
from tests.factories import PASSWORD, add_member, enrol_totp, make_group, make_user, unique_handle
from tests.integration.databases import fresh_postgres_database, require_postgres
from tests.server import ServerThread
from tests.server import test_settings as settings_for_tests

MAX_EXAMPLES = int(os.environ.get("QZ_SCHEMATHESIS_EXAMPLES", "20"))
SEED = 20_240_611
# Logging out revokes the credential the authenticated run relies on: that operation gets a
# throwaway token of its own (see ``_headers_for``).
LOGOUT = ("DELETE", "/v1/sessions/current")
PLATFORM = "/v1/platform/"


@dataclass(frozen=True)
class World:
    """Real objects for the authenticated run, all visible to ``token``'s account."""

    token: str
    admin_token: str
    token_id: int
    spare_token_id: int
    group_id: int
    group_number: int
    doomed_group_id: int
    member_id: int
    member_handle: str
    invitation_id: int
    join_request_id: int
    offer_id: int

    def path_values(self, path: str) -> dict[str, Any]:
        """A real value for each id-like path parameter of the operation at ``path``."""
        # Dissolving is final: that operation gets a group of its own, so that it does not
        # turn every later call on the main group into a refusal.
        group = self.doomed_group_id if path.endswith("/dissolve") else self.group_id
        return {
            "group_id": group,
            "account_id": self.member_id,
            "number": self.group_number,
            "handle": self.member_handle,
            "token_id": self.spare_token_id,  # never our own: see ``_spare_the_world``
            "invitation_id": self.invitation_id,
            "request_id": self.join_request_id,
            "offer_id": self.offer_id,
        }


async def _make_admin(server: ServerThread) -> str:
    """A platform admin, made through the services on the server's own loop (there is no
    API for it), logged in through the API."""
    handle = unique_handle("fuzzadmin")
    ctx = server.app.state.qunzu.ctx
    await server.acall(
        lambda: do_create_platform_user(ctx, SYSTEM, handle, PASSWORD, PlatformRole.admin, "Admin")
    )
    async with QunzuClient(server.url) as admin:
        await admin.login(handle, PASSWORD)
        await enrol_totp(admin, ctx)  # staff need a second factor for platform work
        assert admin.token is not None
        return admin.token


async def _build_world(server: ServerThread) -> World:
    base_url = server.url
    me = await make_user(base_url, prefix="fuzz")
    bob = await make_user(base_url, prefix="fuzzbob")
    carol = await make_user(base_url, prefix="fuzzcarol")
    dave = await make_user(base_url, prefix="fuzzdave")
    try:
        assert me.token is not None and me.account is not None and bob.account is not None
        group = await make_group(me, join_policy="approval", discoverable=True, rules="Be kind.")
        doomed = await make_group(me)
        await add_member(me, group, bob)
        await me.send(group["id"], "hello")
        carols = await make_group(carol)
        invitation = await carol.invite(carols["id"], me.account["handle"])
        request = await dave.request_join(group["id"], "let me in", group["rules_version"])
        offer = await me.offer_ownership(group["id"], bob.account["id"])
        spare = await me.issue_token("spare")
        mine = [t for t in await me.tokens() if t["id"] != spare["token_id"]]
        return World(
            token=me.token,
            admin_token=await _make_admin(server),
            token_id=mine[0]["id"],
            spare_token_id=spare["token_id"],
            group_id=group["id"],
            group_number=group["number"],
            doomed_group_id=doomed["id"],
            member_id=bob.account["id"],
            member_handle=bob.account["handle"],
            invitation_id=invitation["id"],
            join_request_id=request["id"],
            offer_id=offer["id"],
        )
    finally:
        for client in (me, bob, carol, dave):
            await client.aclose()


def _load_schema(server: ServerThread) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
            # Stateful testing links operations through the schema's links; we have none.
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{server.url}/openapi.json", config=config)


def _body_variants(key: str, value: Any, world: World) -> list[Any]:
    """The generated value; a real one where the field names an account; and, for strings,
    the same text with a NUL in it, which must never make it into storage."""
    variants = [value]
    if key == "handle":
        variants.append(world.member_handle)
    if key in ("to_account_id", "account_id"):
        variants.append(world.member_id)
    if isinstance(value, str):
        variants.append(value[:-1] + "\x00")
    return variants


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerThread]:
    """A real server per backend. PostgreSQL is stricter than SQLite (NUL characters,
    column types), so the run goes there too when ``QUNZU_TEST_POSTGRES_URL`` is set."""
    data_dir = tmp_path_factory.mktemp(f"qunzu-schemathesis-{request.param}")
    with contextlib.ExitStack() as stack:
        overrides: dict[str, object] = {}
        if request.param == "postgres":
            url = stack.enter_context(fresh_postgres_database(require_postgres()))
            overrides["database_url"] = url
        thread = ServerThread(settings_for_tests(data_dir, **overrides)).start()
        stack.callback(thread.stop)
        yield thread


@pytest.fixture(scope="module")
def world(server: ServerThread) -> World:
    return asyncio.run(_build_world(server))


@pytest.fixture(scope="module")
def anon_schema(server: ServerThread) -> schemathesis.BaseSchema:
    return _load_schema(server)


@pytest.fixture(scope="module")
def authed_schema(server: ServerThread, world: World) -> schemathesis.BaseSchema:
    schema = _load_schema(server)

    @schema.hook
    def flatmap_path_parameters(
        context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
    ) -> st.SearchStrategy[Any]:
        if not path_parameters or context.operation is None:
            return st.just(path_parameters)
        real = world.path_values(context.operation.path)
        choices = {
            name: st.sampled_from([value, real[name]]) if name in real else st.just(value)
            for name, value in path_parameters.items()
        }
        return st.fixed_dictionaries(choices)

    @schema.hook
    def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
        if not isinstance(body, dict) or not body:
            return st.just(body)
        choices = {k: st.sampled_from(_body_variants(k, v, world)) for k, v in body.items()}
        return st.fixed_dictionaries(choices)

    return schema


def no_nul_in_success(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """A 2xx JSON body must not carry a NUL character back: it would have been stored."""
    if not 200 <= response.status_code < 300 or not response.content:
        return
    content_type = [
        v for k, vs in response.headers.items() if k.lower() == "content-type" for v in vs
    ]
    if not content_type or "json" not in content_type[0]:
        return

    def walk(value: Any) -> None:
        if isinstance(value, str):
            assert "\x00" not in value, f"a NUL character was stored and echoed: {value!r}"
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(response.json())


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    no_nul_in_success,
]


@pytest.fixture(autouse=True)
def _pytest9_node_id(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4.32's lazy-schema runner reads and rewrites ``item._nodeid`` to label
    each operation, an attribute pytest 9.2 no longer has (``nodeid`` is a property of
    ``_id`` now). A plain attribute lets the runner work; the per-operation subtest reports
    still carry the operation label."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


anon = schemathesis.pytest.from_fixture("anon_schema")
authed = schemathesis.pytest.from_fixture("authed_schema")


def _trace(run: str, case: schemathesis.Case, response: schemathesis.Response) -> None:
    path = os.environ.get("QZ_SCHEMATHESIS_TRACE")
    if path:
        body = response.request.body
        with open(path, "a") as out:
            out.write(
                f"{run} {case.method} {case.path} {response.status_code} "
                f"{response.request.url} {response.text[:200]!r} {body!r:.300}\n"
            )


@anon.parametrize()
def test_unauthenticated(case: schemathesis.Case) -> None:
    response = case.call_and_validate(checks=CHECKS)
    _trace("U", case, response)


def _headers_for(case: schemathesis.Case, server: ServerThread, world: World) -> dict[str, str]:
    # Platform operations refuse anyone without a platform role; an admin gets past that.
    token = world.admin_token if case.path.startswith(PLATFORM) else world.token
    if (case.method.upper(), case.path) == LOGOUT:
        issued = requests.post(
            f"{server.url}/v1/me/tokens",
            json={"label": "logout"},
            headers={"Authorization": f"Bearer {world.token}"},
            timeout=10,
        )
        issued.raise_for_status()
        token = issued.json()["token"]
    return {"Authorization": f"Bearer {token}"}


def _spare_the_world(case: schemathesis.Case, world: World) -> None:
    """Keep the run's own token and main group alive, whatever the generator picked.

    The hooks only shape generated cases; the coverage phase picks boundary ids such as 1
    by itself, and those are exactly the ids of the first token and group.
    """
    params = case.path_parameters
    if not params:
        return
    if str(params.get("token_id")) == str(world.token_id):
        params["token_id"] = world.spare_token_id
    if case.path.endswith("/dissolve") and str(params.get("group_id")) == str(world.group_id):
        params["group_id"] = world.doomed_group_id


@authed.parametrize()
def test_authenticated(case: schemathesis.Case, server: ServerThread, world: World) -> None:
    _spare_the_world(case, world)
    response = case.call_and_validate(headers=_headers_for(case, server, world), checks=CHECKS)
    _trace("A", case, response)


def test_the_authenticated_run_stayed_authenticated(server: ServerThread, world: World) -> None:
    """Runs after the authenticated run: its token must still work, or it tested little."""
    response = requests.get(
        f"{server.url}/v1/me", headers={"Authorization": f"Bearer {world.token}"}, timeout=10
    )
    assert response.status_code == 200, response.text
