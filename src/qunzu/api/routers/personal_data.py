"""A person's copy of their own data (services.personal_data): request, poll, download once;
and deleting one's own account (services.account_deletion)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, BackgroundTasks, Response, status
from pydantic import Field

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import IdInt, In, Out
from qunzu.domain.personal_data import ExportState
from qunzu.services import account_deletion, agreement, personal_data

router = APIRouter(
    prefix="/v1/me", tags=["personal data"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


class DataExportOut(Out):
    id: int
    state: ExportState
    requested_at: datetime
    ready_at: datetime | None
    expires_at: datetime | None
    downloaded_at: datetime | None
    size: int


@router.post("/data-exports", status_code=status.HTTP_202_ACCEPTED, response_model=DataExportOut)
async def request_export(ctx: Ctx, actor: CurrentActor, tasks: BackgroundTasks) -> DataExportOut:
    """Ask for a copy of your data; it is built in the background (poll the export, or
    wait for the ``data_export_ready`` notice)."""
    export = await personal_data.do_request_export(ctx, actor)
    tasks.add_task(personal_data.build_export, ctx, export.id)
    return DataExportOut.of(export)


@router.get("/data-exports/{export_id}", response_model=DataExportOut)
async def get_export(
    export_id: IdInt, ctx: Ctx, actor: CurrentActor, tasks: BackgroundTasks
) -> DataExportOut:
    export = await personal_data.get_export(ctx, actor, export_id)
    if personal_data.needs_build(export, ctx.clock.now()):  # its first build died
        tasks.add_task(personal_data.build_export, ctx, export.id)
    return DataExportOut.of(export)


@router.get("/data-exports/{export_id}/download")
async def download_export(export_id: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    """The export as JSON, once; then it is gone (``410 export_gone``)."""
    content = await personal_data.do_download_export(ctx, actor, export_id)
    return Response(
        content,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="qunzu-data-{export_id}.json"',
            "Cache-Control": "no-store",
        },
    )


class AccountDeletionIn(In):
    password: str = Field(min_length=1, max_length=1024)
    remove_messages: bool = False


@router.post("/deletion", status_code=status.HTTP_204_NO_CONTENT)
async def delete_account(body: AccountDeletionIn, ctx: Ctx, actor: CurrentActor) -> Response:
    """Delete your account (注销): sessions end, groups are left, the profile goes, the
    handle stays reserved; your messages stay as "deleted account" unless
    ``remove_messages``. Owners transfer or dissolve their groups first."""
    await account_deletion.do_delete_account(ctx, actor, body.password, body.remove_messages)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


class ConsentOut(Out):
    version: int
    title_zh: str
    title_en: str
    effective_from: datetime
    accepted_at: datetime


class AgreementIn(In):
    version: IdInt


@router.get("/consents", response_model=list[ConsentOut])
async def consents(ctx: Ctx, actor: CurrentActor) -> list[ConsentOut]:
    """Which versions of the service agreement you accepted, and when."""
    return [ConsentOut.of(c) for c in await agreement.list_consents(ctx, actor)]


@router.post("/consents", response_model=list[ConsentOut], status_code=status.HTTP_201_CREATED)
async def accept(body: AgreementIn, ctx: Ctx, actor: CurrentActor) -> list[ConsentOut]:
    """Accept the service agreement in force (``409`` for any other version: read the one
    at ``GET /v1/rulebook``'s ``agreement``, or the web page, first)."""
    await agreement.do_accept_agreement(ctx, actor.id, body.version)
    return [ConsentOut.of(c) for c in await agreement.list_consents(ctx, actor)]
