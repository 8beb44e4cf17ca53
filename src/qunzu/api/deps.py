"""Request dependencies: the service context and the authenticated actor."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from qunzu.services.accounts import Actor, authenticate
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
    actor = await authenticate(context_of(request), token)
    request.state.actor = actor
    return actor


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
CurrentActor = Annotated[Actor, Depends(get_actor)]
