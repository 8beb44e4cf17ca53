"""The SQL unit of work: one connection, one transaction, repositories bound to it.

SQLite allows one writer at a time; rather than let concurrent writers collide
on the file lock, write transactions in one process take an asyncio lock. Read
transactions do not (WAL lets them run beside the writer).

Another process holding SQLite's lock past the engine's wait (a CLI job in a long
transaction) is answered with ``Unavailable`` (503 ``database_busy``), not a 500.
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Self

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from qunzu.domain.errors import Conflict, DomainError, Unavailable
from qunzu.domain.events import Event
from qunzu.services.ports import (
    AccountRepository,
    ActivityRepository,
    AuditRepository,
    ConversationRepository,
    CreditRepository,
    DataExportRepository,
    GroupRepository,
    IdentityRepository,
    InvitationRepository,
    JobRepository,
    JoinRequestRepository,
    LawfulAccessRepository,
    MembershipRepository,
    MessageSearch,
    OwnershipOfferRepository,
    OwnerToolsRepository,
    PostingRepository,
    ReportsRepository,
    ResetCodeRepository,
    RulesRepository,
    SecondFactorRepository,
    TimelineRepository,
    TokenRepository,
    UploadRepository,
)
from qunzu.storage.conversation_repo import SqlConversation
from qunzu.storage.credit_repo import SqlActivity, SqlCredit
from qunzu.storage.engine import SQLITE_BEGIN_OPTION, is_busy, is_sqlite
from qunzu.storage.exports_repo import SqlDataExports
from qunzu.storage.jobs_repo import SqlJobs
from qunzu.storage.lawful_repo import SqlLawfulAccess
from qunzu.storage.outage import is_unavailable, unavailable
from qunzu.storage.owner_repo import SqlOwnerTools
from qunzu.storage.posting_repo import SqlPosting
from qunzu.storage.reports_repo import SqlReports
from qunzu.storage.repositories import (
    SqlAccounts,
    SqlGroups,
    SqlIdentities,
    SqlMemberships,
    SqlResetCodes,
    SqlRules,
    SqlTimeline,
    SqlTokens,
)
from qunzu.storage.requests_repo import (
    SqlAudit,
    SqlInvitations,
    SqlJoinRequests,
    SqlOwnershipOffers,
)
from qunzu.storage.search_repo import make_search
from qunzu.storage.second_factor_repo import SqlSecondFactors
from qunzu.storage.uploads_repo import SqlUploads


def _busy() -> Unavailable:
    return Unavailable(
        "database_busy",
        "The database is busy with another process; try again shortly.",
        retry_after=1,
    )


class SqlUnitOfWork:
    def __init__(self, engine: AsyncEngine, write_lock: asyncio.Lock | None, write: bool) -> None:
        self._engine = engine
        self._lock = write_lock if write else None
        self._write = write
        self._conn: AsyncConnection | None = None
        self._committed = False
        self.events: list[Event] = []

    async def __aenter__(self) -> Self:
        if self._lock is not None:
            await self._lock.acquire()
        try:
            self._conn = await self._engine.connect()
            if self._write and self._conn.dialect.name == "sqlite":
                await self._conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            await self._conn.begin()
        except BaseException as exc:
            try:
                if self._conn is not None:
                    await self._conn.close()
                    self._conn = None
            except Exception:
                if not is_unavailable(exc):
                    raise
            finally:
                if self._lock is not None:
                    self._lock.release()
            if isinstance(exc, OperationalError) and is_busy(exc):
                raise _busy() from exc
            if isinstance(exc, Exception) and is_unavailable(exc):
                raise unavailable() from exc
            raise
        c = self._conn
        self.accounts: AccountRepository = SqlAccounts(c)
        self.identities: IdentityRepository = SqlIdentities(c)
        self.tokens: TokenRepository = SqlTokens(c)
        self.reset_codes: ResetCodeRepository = SqlResetCodes(c)
        self.groups: GroupRepository = SqlGroups(c)
        self.memberships: MembershipRepository = SqlMemberships(c)
        self.rules: RulesRepository = SqlRules(c)
        self.timeline: TimelineRepository = SqlTimeline(c)
        self.invitations: InvitationRepository = SqlInvitations(c)
        self.join_requests: JoinRequestRepository = SqlJoinRequests(c)
        self.ownership_offers: OwnershipOfferRepository = SqlOwnershipOffers(c)
        self.audit: AuditRepository = SqlAudit(c)
        self.credit: CreditRepository = SqlCredit(c)
        self.activity: ActivityRepository = SqlActivity(c)
        self.reports: ReportsRepository = SqlReports(c)
        self.owner: OwnerToolsRepository = SqlOwnerTools(c)
        self.posting: PostingRepository = SqlPosting(c)
        self.jobs: JobRepository = SqlJobs(c)
        self.exports: DataExportRepository = SqlDataExports(c)
        self.lawful: LawfulAccessRepository = SqlLawfulAccess(c)
        self.uploads: UploadRepository = SqlUploads(c)
        self.second_factors: SecondFactorRepository = SqlSecondFactors(c)
        self.conversation: ConversationRepository = SqlConversation(c)
        self.search: MessageSearch = make_search(c)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._conn is not None:
                try:
                    if not self._committed:
                        await self._conn.rollback()
                finally:
                    await self._conn.close()
        except Exception as cleanup_error:
            # A connection the server dropped may fail its rollback too: report the
            # outage, and let the block's own error (if any) win over the cleanup's.
            if not is_unavailable(cleanup_error):
                raise
            if exc is None:
                raise unavailable() from cleanup_error
        finally:
            if self._lock is not None:
                self._lock.release()
        if isinstance(exc, IntegrityError):
            # A unique constraint caught a race the service's own check could not see.
            raise Conflict("duplicate", "This conflicts with an existing record.") from exc
        if isinstance(exc, OperationalError) and is_busy(exc):
            raise _busy() from exc
        if isinstance(exc, Exception) and not isinstance(exc, DomainError) and is_unavailable(exc):
            raise unavailable() from exc

    async def commit(self) -> None:
        assert self._conn is not None
        await self._conn.commit()
        self._committed = True

    async def rollback(self) -> None:
        assert self._conn is not None
        await self._conn.rollback()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._write_lock = asyncio.Lock() if is_sqlite(str(engine.url)) else None

    def __call__(self, *, write: bool = True) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, self._write_lock, write)
