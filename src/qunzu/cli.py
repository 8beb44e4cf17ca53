"""The ``qunzu`` command: serve, demo, migrate, admin and audit tools."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from qunzu.config import Settings

T = TypeVar("T")

app = typer.Typer(help="qunzu: group chat with governance built in.", no_args_is_help=True)
admin_app = typer.Typer(help="Platform administration.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)
rulebook_app = typer.Typer(help="The rulebook: check and show.", no_args_is_help=True)
credit_app = typer.Typer(help="Credit scores and levels.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")
app.add_typer(rulebook_app, name="rulebook")
app.add_typer(credit_app, name="credit")
export_app = typer.Typer(help="Records for the authorities (Art. 11).", no_args_is_help=True)
report_app = typer.Typer(help="Reports about the platform.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(report_app, name="report")
groups_app = typer.Typer(help="Group upkeep jobs.", no_args_is_help=True)
app.add_typer(groups_app, name="groups")
identity_app = typer.Typer(help="Identity keys (docs/identity.md).", no_args_is_help=True)
app.add_typer(identity_app, name="identity")
retention_app = typer.Typer(help="Retention periods and the purge (Art. 13).", no_args_is_help=True)
app.add_typer(retention_app, name="retention")


def _with_services(
    data_dir: Path | None, use: Callable[[Any], Awaitable[T]], refused: int = 2
) -> T:
    """Build the app from settings, run one service call, close it; a refusal (a domain
    error) prints its code and exits with ``refused``."""
    return _with_app(data_dir, lambda qunzu: use(qunzu.ctx), refused)


def _with_app(data_dir: Path | None, use: Callable[[Any], Awaitable[T]], refused: int = 2) -> T:
    """``_with_services`` for commands that need more of the app than its services."""
    from qunzu.bootstrap import build
    from qunzu.domain.errors import DomainError
    from qunzu.logs import configure_logging

    settings = _settings(data_dir)
    # A command's output is for people; its log lines only say what went wrong.
    configure_logging("warning", settings.log_format)

    async def run() -> T:
        qunzu = build(settings)
        await qunzu.start()
        try:
            return await use(qunzu)
        finally:
            await qunzu.close()

    try:
        return asyncio.run(run())
    except DomainError as exc:
        typer.echo(f"refused: {exc.code}: {exc.detail}", err=True)
        raise typer.Exit(refused) from None


def _period_or_exit(start: str | None, end: str | None, period: str | None) -> tuple[Any, Any]:
    try:
        return _period(start, end, period)
    except ValueError as exc:
        typer.echo(f"bad period: {exc}", err=True)
        raise typer.Exit(2) from None


def _period(start: str | None, end: str | None, period: str | None) -> tuple[Any, Any]:
    """--from/--to (ISO, offset optional: UTC assumed) or --period 2026, 2026-Q3, 2026-07."""
    from datetime import UTC, datetime

    def parse(text: str) -> datetime:
        moment = datetime.fromisoformat(text)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    if period:
        year, _, rest = period.partition("-")
        y = int(year)
        if not rest:
            return datetime(y, 1, 1, tzinfo=UTC), datetime(y + 1, 1, 1, tzinfo=UTC)
        if rest.upper().startswith("Q"):
            q = int(rest[1:])
            if not 1 <= q <= 4:
                raise ValueError("quarter is Q1 to Q4")
            start_m = 3 * (q - 1) + 1
            first = datetime(y, start_m, 1, tzinfo=UTC)
            last = datetime(y + (start_m + 3 > 12), (start_m + 3 - 1) % 12 + 1, 1, tzinfo=UTC)
            return first, last
        m = int(rest)
        return datetime(y, m, 1, tzinfo=UTC), datetime(y + (m == 12), m % 12 + 1, 1, tzinfo=UTC)
    if not start or not end:
        raise ValueError("give --from and --to, or --period")
    return parse(start), parse(end)


DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="Where SQLite and the key file live.")
]


def _settings(data_dir: Path | None = None, **overrides: object) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]


def _check_rulebooks(settings: Settings) -> None:
    """A bad rulebook stops the start with the file, the key and the problem named."""
    from qunzu.policy import RulebookError, load_rulebooks

    try:
        load_rulebooks(settings.rulebook_files or None)
    except RulebookError as exc:
        typer.echo(f"qunzu cannot start: rulebook refused: {exc.source}", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(2) from None


def _uvicorn_config(settings: Settings, host: str, port: int) -> object:
    import uvicorn

    from qunzu.logs import configure_logging

    _check_rulebooks(settings)
    from qunzu.api import create_app
    from qunzu.api.ws_protocol import uvicorn_ws_options

    configure_logging(settings.log_level, settings.log_format)
    return uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's loggers go through ours (qunzu.logs)
        access_log=settings.access_log,
        loop="auto",
        http="auto",
        # Named, not "auto": direct writes need the sans-I/O implementation
        # (QUNZU_WS_PROTOCOL); QUNZU_WS_DEFLATE picks its compression offer.
        **uvicorn_ws_options(settings.ws_protocol, settings.ws_deflate),
        # uvicorn would read frames up to 16 MiB before the app refuses them at this size.
        ws_max_size=settings.max_request_bytes,
        lifespan="on",
        proxy_headers=True,
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    data_dir: DataDir = None,
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///path or postgresql+asyncpg://user@host/db")
    ] = None,
    bus_url: Annotated[str | None, typer.Option(help="memory://, redis://, nats://")] = None,
) -> None:
    """Run the API server (migrations are applied on start)."""
    import uvicorn

    settings = _settings(data_dir, database_url=database_url, bus_url=bus_url)
    config = _uvicorn_config(settings, host or settings.host, port or settings.port)
    uvicorn.Server(config).run()  # type: ignore[arg-type]


@app.command()
def migrate(
    data_dir: DataDir = None, database_url: Annotated[str | None, typer.Option()] = None
) -> None:
    """Apply database migrations and print the revision in place."""
    from qunzu.bootstrap import migrate_database

    settings = _settings(data_dir, database_url=database_url)
    revision = asyncio.run(migrate_database(settings))
    typer.echo(f"database at revision {revision}")


@app.command()
def demo(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    data_dir: Annotated[Path, typer.Option("--data-dir")] = Path("qunzu-demo-data"),
    reset: Annotated[bool, typer.Option(help="Delete the demo data first.")] = False,
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve")] = True,
) -> None:
    """Build a demo world (verified users, groups, conversation), print logins, and serve."""
    import uvicorn

    from qunzu.demo import DEMO_PASSWORD, PEOPLE, build_demo_world

    if reset and data_dir.exists():
        shutil.rmtree(data_dir)
    marker = data_dir / "DEMO_WORLD"
    settings = _settings(data_dir)
    server = uvicorn.Server(_uvicorn_config(settings, host, port))  # type: ignore[arg-type]
    base = f"http://{host}:{port}"

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
                return
            await asyncio.sleep(0.05)
        if not marker.exists():
            await build_demo_world(base)
            marker.write_text("built\n")
        typer.echo("")
        typer.echo(f"qunzu demo is running at {base}  (API docs: {base}/docs)")
        typer.echo("Logins (handle / password):")
        for person in PEOPLE:
            typer.echo(f"  {person.handle:<12} {DEMO_PASSWORD}   ({person.display_name})")
        typer.echo(
            "Try:  curl -s -X POST " + base + "/v1/sessions -H 'content-type: application/json'"
            f' -d \'{{"handle":"wangfang","password":"{DEMO_PASSWORD}"}}\''
        )
        if not serve_after:
            server.should_exit = True
        await task

    asyncio.run(run())


@admin_app.command("create-platform-user")
def create_platform_user(
    handle: str,
    role: Annotated[str, typer.Option(help="reviewer, senior-reviewer, auditor or admin")],
    password: Annotated[
        str | None, typer.Option(help="Defaults to $QUNZU_NEW_USER_PASSWORD or a prompt.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a platform staff account (audited)."""
    from qunzu.domain.models import PlatformRole
    from qunzu.services.accounts import do_create_platform_user
    from qunzu.services.actor import SYSTEM

    try:
        platform_role = PlatformRole(role)
    except ValueError:
        roles = ", ".join(r.value for r in PlatformRole)
        typer.echo(f"unknown role {role!r}; use one of: {roles}", err=True)
        raise typer.Exit(2) from None
    secret = (
        password
        or os.environ.get("QUNZU_NEW_USER_PASSWORD")
        or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    )
    account = _with_services(
        data_dir,
        lambda ctx: do_create_platform_user(ctx, SYSTEM, handle, secret, platform_role),
        refused=1,
    )
    typer.echo(f"created {account.handle} (id {account.id}) with role {platform_role.value}")


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Walk the audit hash chain and hold its end against the sealed head; exit 1 and name
    the first broken entry if any. The check is itself audited (as the system)."""
    from qunzu.services.actor import SYSTEM
    from qunzu.services.audit import verify_audit_chain

    report = _with_services(data_dir, lambda ctx: verify_audit_chain(ctx, SYSTEM))
    if report.ok:
        typer.echo(f"audit chain intact: {report.checked} entries, as its sealed head says")
        return
    where = f" at entry {report.first_broken_id}" if report.first_broken_id is not None else ""
    typer.echo(
        f"audit chain BROKEN{where}: {report.reason} "
        f"({report.checked} entries verified; the head says {report.expected})"
    )
    raise typer.Exit(1)


@audit_app.command("seal")
def audit_seal(data_dir: DataDir = None) -> None:
    """Seal the chain's head at its end as it stands (a log whose head is not sealed, or
    one accepted after an incident was looked into). Refused while links are broken."""
    from qunzu.services.actor import SYSTEM
    from qunzu.services.audit import do_seal_audit_head

    report = _with_services(data_dir, lambda ctx: do_seal_audit_head(ctx, SYSTEM), refused=1)
    typer.echo(f"audit head sealed at {report.checked} entries")


@rulebook_app.command("check")
def rulebook_check(files: list[Path]) -> None:
    """Validate rulebook files (and that their versions do not collide); exit 1 if bad."""
    from qunzu.policy import RulebookError, load_rulebooks

    try:
        books = load_rulebooks(files)
    except RulebookError as exc:
        typer.echo(f"rulebook refused: {exc.source}", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1) from None
    for book in books.versions:
        typer.echo(
            f"ok: {book.version} ({book.name}), in force from {book.effective_from.isoformat()}"
        )


@rulebook_app.command("show")
def rulebook_show(
    files: Annotated[list[Path] | None, typer.Argument()] = None,
    at: Annotated[str | None, typer.Option(help="ISO moment with offset; default now.")] = None,
) -> None:
    """Print the rulebook in force (the packaged default unless files are given) as JSON."""
    import json
    from datetime import UTC, datetime

    from qunzu.policy import RulebookError, load_rulebooks
    from qunzu.services.rulebook import rulebook_document

    try:
        books = load_rulebooks(files or None)
        moment = datetime.fromisoformat(at) if at else datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("the moment needs a UTC offset")
        book = books.in_force(moment)
    except RulebookError as exc:
        typer.echo(f"rulebook refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except ValueError as exc:
        typer.echo(f"bad --at: {exc}", err=True)
        raise typer.Exit(2) from None
    except Exception as exc:  # e.g. no version in force at that moment
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(json.dumps(rulebook_document(book), ensure_ascii=False, indent=2))


def _run_job_now(data_dir: Path | None, name: str) -> dict[str, Any]:
    """Run a periodic job now (short transactions: safe beside a live server); exit 1
    if another node is running it."""
    from qunzu.services.jobs import run_now

    async def run(qunzu: Any) -> Any:
        return await run_now(qunzu.ctx, qunzu.jobs.job(name), qunzu.jobs.locks, qunzu.node)

    done = _with_app(data_dir, run)
    if done is None:
        typer.echo(f"{name} is running on another node now; not run again", err=True)
        raise typer.Exit(1)
    return dict(done.detail)


@credit_app.command("recompute")
def credit_recompute(data_dir: DataDir = None) -> None:
    """Recompute every account's score and level now (the server also runs it daily)."""
    import time

    from qunzu.bootstrap import CREDIT_RECOMPUTE

    started = time.perf_counter()
    count = _run_job_now(data_dir, CREDIT_RECOMPUTE)["accounts"]
    typer.echo(f"recomputed {count} accounts in {time.perf_counter() - started:.2f}s")


@export_app.command("regulator")
def export_regulator(
    start: Annotated[str | None, typer.Option("--from", help="ISO date or moment")] = None,
    end: Annotated[str | None, typer.Option("--to", help="ISO date or moment (exclusive)")] = None,
    period: Annotated[str | None, typer.Option(help="2026, 2026-Q3 or 2026-07")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    out: Annotated[Path | None, typer.Option(help="File to write; default stdout")] = None,
    data_dir: DataDir = None,
) -> None:
    """Sanctions on groups and accounts, with articles and reasons (schema: docs/records.md)."""
    from qunzu.services.actor import SYSTEM
    from qunzu.services.records import regulator_rows, render

    first, last = _period_or_exit(start, end, period)

    async def rows(ctx: Any) -> str:
        return render(await regulator_rows(ctx, first, last, SYSTEM), fmt)

    text = _with_services(data_dir, rows)
    if out:
        out.write_text(text, encoding="utf-8")
    else:
        typer.echo(text, nl=False)


@report_app.command("transparency")
def report_transparency(
    start: Annotated[str | None, typer.Option("--from")] = None,
    end: Annotated[str | None, typer.Option("--to")] = None,
    period: Annotated[str | None, typer.Option(help="2026, 2026-Q3 or 2026-07")] = None,
    data_dir: DataDir = None,
) -> None:
    """Counts by category, tier, decision and sanction; time to decision; appeals (JSON)."""
    import json

    from qunzu.services.actor import SYSTEM
    from qunzu.services.records import transparency

    first, last = _period_or_exit(start, end, period)
    report = _with_services(data_dir, lambda ctx: transparency(ctx, first, last, SYSTEM))
    typer.echo(json.dumps(report, ensure_ascii=False, indent=2))


@identity_app.command("rekey")
def identity_rekey(data_dir: DataDir = None) -> None:
    """Re-encrypt every identity under the newest key of QUNZU_IDENTITY_FIELD_KEYS and
    re-key its blind index, now (the server also runs it daily). ``rekeyed: 0`` means
    no identity uses an older key any more."""
    import json

    from qunzu.bootstrap import IDENTITY_REKEY

    typer.echo(json.dumps(_run_job_now(data_dir, IDENTITY_REKEY)))


@retention_app.command("purge")
def retention_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would go.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Purge every data class past its retention period (the server also runs it daily);
    with --dry-run, only count what would go and what legal holds keep."""
    import json

    from qunzu.bootstrap import RETENTION_PURGE
    from qunzu.services.retention import purge

    if dry_run:
        report = _with_services(data_dir, lambda ctx: purge(ctx, dry_run=True))
        counts = {"dry_run": True, "would_purge": report.purged, "held": report.held}
    else:
        counts = {"dry_run": False, **_run_job_now(data_dir, RETENTION_PURGE)}
    typer.echo(json.dumps(counts, ensure_ascii=False, indent=2))


@groups_app.command("sweep-unattended")
def groups_sweep_unattended(data_dir: DataDir = None) -> None:
    """Mark unattended groups, remind owners, turn long-unattended groups read-only, now
    (the server also runs it daily)."""
    from qunzu.bootstrap import UNATTENDED_SWEEP

    moved = _run_job_now(data_dir, UNATTENDED_SWEEP)
    typer.echo(
        f"unattended: {moved['unattended']}, read-only: {moved['read_only']}, "
        f"attended again: {moved['attended']}"
    )


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
