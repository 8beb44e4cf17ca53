"""Request dependencies: the service context and the authenticated actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qunzu.services.accounts import authenticate
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext

bearer = HTTPBearer(auto_error=False, description="An API token from POST /v1/sessions.")


def context_of(request: Request) -> ServiceContext:
    ctx: ServiceContext = request.app.state.qunzu.ctx
    return ctx


async def get_ctx(request: Request) -> ServiceContext:
    # async on purpose: FastAPI runs a plain ``def`` dependency in a worker thread,
    # and that hop cost more than the rest of the dependency (profiled under load).
    return context_of(request)


async def get_actor(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Actor:
    token = credentials.credentials if credentials else None
    actor = await authenticate(context_of(request), token, address=_address(request))
    request.state.actor = actor
    return actor


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer`` header, read as ``HTTPBearer`` reads it."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    credentials = credentials.strip()
    return credentials if scheme.lower() == "bearer" and credentials else None


async def get_session(request: Request) -> Session:
    """The context and the authenticated actor in one dependency, for the hottest routes.

    Each dependency costs FastAPI tens of microseconds per request to solve; the send
    route is most of the traffic. The route declares the bearer security itself
    (``BEARER_SECURITY``), since no ``HTTPBearer`` dependency does it here."""
    ctx = context_of(request)
    actor = await authenticate(ctx, bearer_token(request), address=_address(request))
    request.state.actor = actor
    return Session(ctx, actor)


@dataclass(frozen=True, slots=True)
class Session:
    ctx: ServiceContext
    actor: Actor


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
CurrentActor = Annotated[Actor, Depends(get_actor)]
CurrentSession = Annotated[Session, Depends(get_session)]
# The OpenAPI security requirement of a route that authenticates through get_session.
BEARER_SECURITY: dict[str, object] = {"security": [{"HTTPBearer": []}]}
