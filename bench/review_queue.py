"""Review queue and decision benchmark for qunzu (issue 4, "Speed").

A benchmark, not a test. On SQLite (a temporary data dir) and on PostgreSQL (a
fresh database, dropped at the end), each migrated to the newest schema:

data        C open cases (default 100,000) with about R reports each (default 10,
            so 1,000,000 reports), generated with bulk SQL; the generation time is
            printed apart and not measured. Around them: accounts, groups of M
            members (owner, one admin), their timelines, evidence for message cases
            (the reported message and two before it), credit state and a two-entry
            ledger for every account, a reporter record for 80% of them, and a few
            bulk reviewer accounts that have claimed some cases.
queue       ``review.list_queue(ctx, actor, QueueFilter(), limit=50)``: the first page
            of the queue, earliest deadline first, through the service layer in
            process; also with a category filter and with ``overdue_only``, and
            ``review.count_overdue`` (the /metrics gauge) for information.
decide      ``review.do_decide_case``: a violation with two sanctions, a group
            ``warning`` citing art-10 and an account ``lower_credit`` citing art-11,
            on distinct cases taken from the head of the queue (unclaimed), as a
            senior reviewer works through it. Each decision also settles every
            reporter (record, credit, notice) and charges the reported account.

Goal: p99 under 50 ms for the queue page and for a decision, on both databases.

Data (deterministic, the same on both databases; ``i`` is the case id):
groups of K=10 cases; in each group case 4 is about the group, cases 9, 19, ...
about a member and the rest about a message; 5% of cases are severe (platform
route, visible at once, 2 h deadline), the rest normal (owner first for 24 h,
then a 24 h deadline); cases were filed uniformly over the past 96 hours, so
about a quarter are still with the owner and about half of the visible ones
are overdue; 90% open, 5% claimed by a bulk reviewer, 5% escalated. Reports per
case vary by up to R/2 around R in pairs, so the total is C x R; reporters are
distinct members of the group, never the reported account; weights 0.5..3.0;
the case's priority is the domain formula over its reports.

Everything is on 127.0.0.1; every database and temporary directory the
benchmark makes is removed in ``finally``; the number of operations is fixed.

    python bench/review_queue.py                    # 100k cases / 1M reports
    python bench/review_queue.py --quick            # 10k cases / 100k reports
    python bench/review_queue.py --skip-postgres --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "qunzu_bench_review"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
GOAL_P99_MS = 50.0
FAKE_HASH = "$argon2id$v=19$m=65536,t=3,p=1$YmVuY2hiZW5jaA$" + "A" * 43
PASSWORD = "correct horse battery staple"

K = 10  # cases per group
N_REVIEWERS = 20  # bulk reviewer accounts (they hold the claimed cases)
SEVERE = ("threat-to-life", "minors", "terrorism")
NORMAL = (
    "violence",
    "obscenity",
    "insult-defamation",
    "privacy-disclosure",
    "fraud",
    "spam",
    "other-illegal",
)
FILTER_CATEGORY = "fraud"  # about 1 in 7.4 cases

P = 4294967291  # largest prime below 2**32


def _h(expr: str, mul: int, add: int) -> str:
    """A deterministic pseudo-random number per row, the same on both databases."""
    return f"((({expr}) * {mul} + {add}) % {P})"


def _pick(expr: str, values: tuple[str, ...]) -> str:
    whens = " ".join(f"WHEN {n} THEN '{v}'" for n, v in enumerate(values))
    return f"CASE ({expr}) % {len(values)} {whens} END"


class Shape:
    """Sizes and the SQL expressions that derive every row from its numbers."""

    def __init__(self, cases: int, per_case: int, now: int) -> None:
        self.cases = cases
        self.per_case = per_case
        self.max_reports = per_case + per_case // 2
        self.members = max(100, self.max_reports + 3)
        self.groups = -(-cases // K)
        self.seqs = 2 * K + 2  # messages per group
        # Each account belongs to about 10 groups.
        self.accounts = max(self.members, self.groups * self.members // 10)
        self.now = now

    # ---- per-row expressions -----------------------------------------------------------
    def acct(self, g: str, k: str) -> str:
        """Account id of member k (0 owner, 1 admin) of group g."""
        return f"(1 + ((({g}) - 1) * {self.members} + ({k})) % {self.accounts})"

    def sender_idx(self, s: str) -> str:
        """Member index (2.. M-1) of the sender of message s."""
        return f"(2 + (({s}) * 37) % {self.members - 2})"

    def msg_ago(self, s: str) -> str:
        """Seconds before now that message s was sent: before every case."""
        return f"({97 * 3600} + ({self.seqs} - ({s})) * 60)"

    @staticmethod
    def g(i: str) -> str:
        return f"((({i}) - 1) / {K} + 1)"

    @staticmethod
    def c(i: str) -> str:
        return f"((({i}) - 1) % {K})"

    def s(self, i: str) -> str:
        return f"(2 * {self.c(i)} + 2)"

    @staticmethod
    def filed_ago(i: str) -> str:
        return f"({_h(i, 40503, 7)} % {96 * 3600})"

    @staticmethod
    def sev_hash(i: str) -> str:
        return _h(i, 2654435761, 12345)

    def severe(self, i: str) -> str:
        return f"({self.sev_hash(i)} % 100 < 5)"

    def kind(self, i: str) -> str:
        c = self.c(i)
        return f"CASE WHEN {c} = 4 THEN 'group' WHEN {c} % 10 = 9 THEN 'member' ELSE 'message' END"

    def reporters(self, i: str) -> str:
        c = self.c(i)
        d = f"({_h(f'{self.g(i)} * {K} + {c} / 2', 69069, 1)} % {self.per_case // 2 + 1})"
        return f"CASE WHEN {c} % 2 = 0 THEN {self.per_case} + {d} ELSE {self.per_case} - {d} END"

    def reporter_idx(self, i: str, j: str) -> str:
        base = self.sender_idx(self.s(i))
        window = f"({self.c(i)} * {self.max_reports} + ({j})) % {self.members - 3}"
        return f"(2 + (({base} - 2) + 1 + {window}) % {self.members - 2})"


class Dialect:
    def __init__(self, pg: bool, now: int) -> None:
        self.pg = pg
        self.now = now
        self.true, self.false = ("true", "false") if pg else ("1", "0")
        self.empty_json = "'[]'::json" if pg else "'[]'"

    def ts(self, ago: str) -> str:
        """The instant ``ago`` seconds before the generation's now, as each database stores it."""
        if self.pg:
            return f"to_timestamp({self.now} - ({ago}))"
        return f"strftime('%Y-%m-%d %H:%M:%S', {self.now} - ({ago}), 'unixepoch') || '.000000'"

    def series(self, name: str, col: str, lo: int, hi: int) -> tuple[str, str]:
        """(WITH-clause part, FROM item) for the integers lo..hi."""
        if self.pg:
            return "", f"generate_series({lo}::bigint, {hi}::bigint) AS {name}({col})"
        cte = (
            f"{name}({col}) AS (SELECT {lo} UNION ALL SELECT {col} + 1 FROM {name} "
            f"WHERE {col} < {hi})"
        )
        return cte, name


def _with(*ctes: str) -> str:
    parts = [c for c in ctes if c]
    return f"WITH RECURSIVE {', '.join(parts)} " if parts else ""


def generation_sql(sh: Shape, d: Dialect, lo: int | None = None, hi: int | None = None) -> dict:
    """The bulk INSERTs, in order. ``lo``/``hi`` restrict the reports to a case-id range."""
    a_total = sh.accounts + N_REVIEWERS
    out: dict[str, str] = {}

    ca, fa = d.series("sa", "i", 1, a_total)
    out["accounts"] = f"""
        {_with(ca)}INSERT INTO accounts (id, handle, display_name, password_hash, created_at,
                              identity_verified, platform_role, disabled)
        SELECT i, 'bench' || i, 'Bench ' || i, '{FAKE_HASH}',
               {d.ts(f"{400 * 86400} + {_h('i', 2654435761, 17)} % {300 * 86400}")},
               {d.true}, CASE WHEN i > {sh.accounts} THEN 'reviewer' END, {d.false}
        FROM {fa}"""
    # Steady credit state: verified (+300), age capped (+120): score 520, level 2.
    out["account_credit"] = f"""
        INSERT INTO account_credit (account_id, score, level, locked_level, locked_by,
                                    age_points, activity_points, computed_at)
        SELECT id, 520, 2, NULL, NULL, 120, 0, {d.ts("3600")} FROM accounts"""
    out["credit_ledger"] = f"""
        INSERT INTO credit_ledger (account_id, delta, reason, article, source, note, at)
        SELECT id, 300, 'identity_verified', 'art-6', NULL, '', {d.ts(f"{300 * 86400}")}
        FROM accounts
        UNION ALL
        SELECT id, 120, 'account_age', NULL, NULL, '', {d.ts("3600")} FROM accounts"""

    # Most reporters have a record from earlier decisions.
    rh = _h("id", 48271, 11)
    out["reporter_stats"] = f"""
        INSERT INTO reporter_stats (account_id, upheld, unfounded, no_violation)
        SELECT id, {rh} / 10 % 6, 0, {rh} / 60 % 3
        FROM accounts WHERE {rh} % 10 < 8"""

    cg, fg = d.series("sg", "g", 1, sh.groups)
    out["groups"] = f"""
        {_with(cg)}INSERT INTO groups (id, number, kind, name, category, join_policy,
                            discoverable, owner_id, state, created_at, last_seq,
                            rules_version, member_count, direct_key)
        SELECT g, 20000000 + g, 'group', 'bench group ' || g, 'interest', 'invite-only',
               {d.false}, {sh.acct("g", "0")}, 'active', {d.ts(f"{30 * 86400}")},
               {sh.seqs}, 0, {sh.members}, NULL
        FROM {fg}"""
    out["group_activity"] = f"""
        INSERT INTO group_activity (group_id, created_by, tier, last_activity_at)
        SELECT id, owner_id, 'small', {d.ts("3600")} FROM groups"""
    ck, fk = d.series("sk", "k", 0, sh.members - 1)
    out["memberships"] = f"""
        {_with(cg, ck)}INSERT INTO memberships (group_id, account_id, role, state, joined_at,
                                 joined_seq, left_seq, accepted_rules_version)
        SELECT g, {sh.acct("g", "k")},
               CASE WHEN k = 0 THEN 'owner' WHEN k = 1 THEN 'admin' ELSE 'member' END,
               'active', {d.ts(f"{30 * 86400}")}, 0, NULL, 0
        FROM {fg} CROSS JOIN {fk}"""
    cs, fs = d.series("ss", "s", 1, sh.seqs)
    out["timeline"] = f"""
        {_with(cg, cs)}INSERT INTO timeline (group_id, seq, kind, sender_id, client_txn_id,
                              body, data, created_at)
        SELECT g, s, 'message', {sh.acct("g", sh.sender_idx("s"))}, NULL,
               'bench message ' || s, NULL, {d.ts(sh.msg_ago("s"))}
        FROM {fg} CROSS JOIN {fs}"""

    i = "i"
    g, s, ago = sh.g(i), sh.s(i), sh.filed_ago(i)
    sev = sh.severe(i)
    target_acct = sh.acct(g, sh.sender_idx(s))
    status_h = f"({_h(i, 97, 3)} % 100)"
    cc, fc = d.series("sc", "i", 1, sh.cases)
    out["cases"] = f"""
        {_with(cc)}INSERT INTO cases (id, target_key, target_kind, group_id, seq, account_id,
                           category, severity, tier, route, status, created_at, deadline_at,
                           platform_visible_at, conduct_at, priority, reporters, claimed_by,
                           decision, decided_by, decided_at, decision_note, rulebook_version)
        SELECT x.i,
               CASE x.kind WHEN 'message' THEN 'message:' || x.g || ':' || x.s
                           WHEN 'member' THEN 'member:' || x.g || ':' || x.acct
                           ELSE 'group:' || x.g END,
               x.kind, x.g,
               CASE WHEN x.kind = 'message' THEN x.s END,
               CASE WHEN x.kind <> 'group' THEN x.acct END,
               CASE WHEN x.sev THEN {_pick("x.h / 100", SEVERE)}
                    ELSE {_pick("x.h / 100", NORMAL)} END,
               CASE WHEN x.sev THEN 'severe' ELSE 'normal' END,
               'small',
               CASE WHEN x.sev THEN 'platform' ELSE 'owner' END,
               CASE WHEN x.st < 5 THEN 'escalated' WHEN x.st < 10 THEN 'claimed' ELSE 'open' END,
               {d.ts("x.ago")},
               CASE WHEN x.sev THEN {d.ts("x.ago - 7200")} ELSE {d.ts("x.ago - 172800")} END,
               CASE WHEN x.sev THEN {d.ts("x.ago")} ELSE {d.ts("x.ago - 86400")} END,
               CASE WHEN x.kind = 'message' THEN {d.ts(sh.msg_ago("x.s"))}
                    ELSE {d.ts("x.ago")} END,
               0, x.r,
               CASE WHEN x.st >= 5 AND x.st < 10 THEN {sh.accounts} + 1 + x.st % {N_REVIEWERS}
                    END,
               NULL, NULL, NULL,
               CASE WHEN x.st < 5 THEN 'escalated by the benchmark' ELSE '' END, ''
        FROM (SELECT {i} AS i, {g} AS g, {s} AS s, {ago} AS ago, {sev} AS sev,
                     {sh.sev_hash(i)} AS h, {sh.kind(i)} AS kind, {target_acct} AS acct,
                     {status_h} AS st, {sh.reporters(i)} AS r
              FROM {fc}) AS x"""

    k_id = "k.id"
    cj, fj = d.series("sj", "j", 0, sh.max_reports - 1)
    where = f"WHERE k.id BETWEEN {lo} AND {hi}" if lo is not None else ""
    out["reports"] = f"""
        {_with(cj)}INSERT INTO reports (case_id, reporter_id, target_key, category, statement,
                             extra_seqs, created_at, reporter_weight, manifestly_unfounded)
        SELECT k.id, {sh.acct("k.group_id", sh.reporter_idx(k_id, "j"))}, k.target_key,
               k.category, 'bench report ' || j, {d.empty_json},
               {d.ts(f"{sh.filed_ago(k_id)} - (j * {sh.filed_ago(k_id)}) / (k.reporters + 1)")},
               0.5 + ({_h(f"{k_id} * 64 + j", 2246822519, 5)} % 26) / 10.0, {d.false}
        FROM cases AS k JOIN {fj} ON j < k.reporters
        {where}"""
    out["priority"] = """
        UPDATE cases SET priority =
            (CASE WHEN severity = 'severe' THEN 1000.0 ELSE 100.0 END)
            + 10.0 * (SELECT sum(r.reporter_weight) FROM reports AS r WHERE r.case_id = cases.id)
        """
    ce, fe = d.series("se", "e", 0, 2)
    out["evidence"] = f"""
        {_with(ce)}INSERT INTO evidence (case_id, seq, sender_id, body, kind, created_at, reported)
        SELECT k.id, k.seq - e, {sh.acct("k.group_id", sh.sender_idx("k.seq - e"))},
               'bench message ' || (k.seq - e), 'message', {d.ts(sh.msg_ago("k.seq - e"))},
               CASE WHEN e = 0 THEN {d.true} ELSE {d.false} END
        FROM cases AS k CROSS JOIN {fe}
        WHERE k.target_kind = 'message'"""
    return out


COUNTED = (
    "accounts",
    "reporter_stats",
    "groups",
    "memberships",
    "timeline",
    "cases",
    "reports",
    "evidence",
)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


# ------------------------------------------------------------------------------ generation


def generate_sqlite(db: Path, sh: Shape) -> dict[str, Any]:
    sql = generation_sql(sh, Dialect(False, sh.now))
    con = sqlite3.connect(db, isolation_level=None)
    timings: dict[str, float] = {}
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA cache_size=-1048576")  # 1 GiB page cache for the load
        con.execute("PRAGMA temp_store=MEMORY")
        con.execute("BEGIN")
        for name, stmt in sql.items():
            t0 = time.perf_counter()
            con.execute(stmt)
            timings[f"{name}_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        timings["commit_s"] = time.perf_counter() - t0
        counts = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in COUNTED}
    finally:
        con.close()
    return {**timings, "rows": counts, "db_bytes": db.stat().st_size}


async def generate_postgres(dsn: str, sh: Shape) -> dict[str, Any]:
    import asyncpg

    d = Dialect(True, sh.now)
    sql = generation_sql(sh, d)
    timings: dict[str, float] = {}

    async def connect() -> Any:
        c = await asyncpg.connect(dsn)
        # Bulk load: skip the FK triggers for this session (the data is consistent by
        # construction), as pg_restore does; indexes are maintained as usual.
        await c.execute("SET session_replication_role = replica")
        await c.execute("SET statement_timeout = '30min'")
        return c

    con = await connect()
    try:
        for name, stmt in sql.items():
            t0 = time.perf_counter()
            if name == "reports":
                # The big one in parallel parts by case id (the load is CPU-bound per backend).
                workers = max(1, min(4, os.cpu_count() or 1))
                bounds = [1 + sh.cases * w // workers for w in range(workers + 1)]

                async def part(lo: int, hi: int) -> None:
                    c = await connect()
                    try:
                        await c.execute(generation_sql(sh, d, lo, hi)["reports"])
                    finally:
                        await c.close()

                await asyncio.gather(*(part(bounds[w], bounds[w + 1] - 1) for w in range(workers)))
            else:
                await con.execute(stmt)
            timings[f"{name}_s"] = time.perf_counter() - t0
        for table in ("accounts", "groups", "cases"):
            await con.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        t0 = time.perf_counter()
        # What autovacuum would have done on a live system: statistics and visibility map.
        await con.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = time.perf_counter() - t0
        counts = {t: await con.fetchval(f"SELECT count(*) FROM {t}") for t in COUNTED}
        size = await con.fetchval("SELECT pg_database_size(current_database())")
    finally:
        await con.close()
    return {**timings, "rows": counts, "db_bytes": size}


# ------------------------------------------------------------------------------ measuring


def percentiles(samples: list[float]) -> dict[str, float]:
    s = sorted(samples)

    def q(p: float) -> float:  # nearest rank
        return s[min(len(s) - 1, max(0, math.ceil(p * len(s)) - 1))]

    return {
        "n": len(s),
        "p50": q(0.50),
        "p95": q(0.95),
        "p99": q(0.99),
        "max": s[-1],
        "mean": statistics.fmean(s),
    }


async def timed(fn: Callable[[], Awaitable[Any]], n: int, warmup: int) -> tuple[dict, Any]:
    last = None
    for _ in range(warmup):
        last = await fn()
    samples = []
    gc.collect()
    for _ in range(n):
        t0 = time.perf_counter()
        last = await fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return percentiles(samples), last


async def measure(settings: Any, queue_n: int, decide_n: int) -> dict[str, Any]:
    """Build the app as the server does and drive the review services in process."""
    from qunzu.bootstrap import build
    from qunzu.crypto import otp
    from qunzu.domain.models import PlatformRole
    from qunzu.domain.reports import Decision, QueueFilter
    from qunzu.domain.sanctions import SanctionRequest
    from qunzu.services import review, second_factor
    from qunzu.services.accounts import authenticate, do_create_platform_user, do_login
    from qunzu.services.actor import SYSTEM
    from qunzu.services.signin import IssuedToken

    app = build(settings)
    await app.start()
    try:
        load = os.getloadavg()
        print(f"    (load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f})", flush=True)
        ctx = app.ctx
        await do_create_platform_user(
            ctx, SYSTEM, "benchsenior", PASSWORD, PlatformRole.senior_reviewer, "Bench senior"
        )
        issued = await do_login(ctx, "benchsenior", PASSWORD)
        assert isinstance(issued, IssuedToken)  # no second factor yet
        token = issued.token
        actor = await authenticate(ctx, token)
        # Staff need a second factor before platform work: enrol an authenticator app.
        started = await second_factor.do_start_totp(ctx, actor)
        code = otp.code_at(started.secret, ctx.clock.now())
        await second_factor.do_confirm_totp(ctx, actor, started.factor_id, code)
        actor = await authenticate(ctx, token)
        out: dict[str, Any] = {"load_average_before": load}

        variants = {
            "queue": QueueFilter(),
            "queue_category": QueueFilter(category=FILTER_CATEGORY),
            "queue_overdue": QueueFilter(overdue_only=True),
        }
        for name, flt in variants.items():

            async def page(flt: QueueFilter = flt) -> list[Any]:
                return await review.list_queue(ctx, actor, flt, limit=50)

            stats, rows = await timed(page, queue_n, warmup=10)
            stats["rows"] = len(rows)
            out[name] = stats
            print(f"    {name:<16} {fmt(stats)}", flush=True)
        stats, overdue = await timed(
            lambda: review.count_overdue(ctx), max(20, queue_n // 10), warmup=3
        )
        stats["value"] = overdue
        out["count_overdue"] = stats
        print(f"    {'count_overdue':<16} {fmt(stats)} (= {overdue:,})", flush=True)

        # The head of the queue, unclaimed: what a senior reviewer decides next.
        picked: list[int] = []
        offset = 0
        while len(picked) < decide_n:
            page_ = await review.list_queue(ctx, actor, QueueFilter(), limit=200, offset=offset)
            if not page_:
                break
            picked += [c.id for c in page_ if c.claimed_by is None]
            offset += len(page_)
        picked = picked[:decide_n]
        if len(picked) < decide_n:
            print(f"    (only {len(picked)} unclaimed cases to decide)", flush=True)
        sanctions = [
            SanctionRequest(
                kind="warning",
                article="art-10",
                facts="Members reported prohibited content that the owner left up.",
                days=7,
            ),
            SanctionRequest(
                kind="lower_credit",
                article="art-11",
                facts="The account posted the prohibited content the members reported.",
            ),
        ]
        samples = []
        imposed = 0
        gc.collect()
        for case_id in picked:
            t0 = time.perf_counter()
            _case, made = await review.do_decide_case(
                ctx, actor, case_id, Decision.violation, sanctions, note="benchmark decision"
            )
            samples.append((time.perf_counter() - t0) * 1000)
            imposed += len(made)
        stats = percentiles(samples) if samples else {}
        stats["sanctions"] = imposed
        out["decide"] = stats
        print(f"    {'decide':<16} {fmt(stats)}", flush=True)

        async def page_after() -> list[Any]:
            return await review.list_queue(ctx, actor, QueueFilter(), limit=50)

        stats, rows = await timed(page_after, queue_n, warmup=5)
        stats["rows"] = len(rows)
        out["queue_after_decisions"] = stats
        print(f"    {'queue (after)':<16} {fmt(stats)}", flush=True)
        out["load_average_after"] = os.getloadavg()
        return out
    finally:
        await app.close()


def fmt(st: dict[str, Any]) -> str:
    if "p50" not in st:
        return "(no samples)"
    return (
        f"p50 {st['p50']:7.2f}  p95 {st['p95']:7.2f}  p99 {st['p99']:7.2f}  "
        f"max {st['max']:7.2f} ms  (n={st['n']})"
    )


def bench_settings(data_dir: Path, database_url: str | None = None) -> Any:
    from qunzu.config import Settings

    return Settings(
        environment="test",
        data_dir=data_dir,
        database_url=database_url,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
    )


async def bench_sqlite(sh: Shape, queue_n: int, decide_n: int) -> dict[str, Any]:
    from qunzu.bootstrap import migrate_database

    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-review-"))
    try:
        data_dir = tmp / "data"
        await migrate_database(bench_settings(data_dir))
        db = data_dir / "qunzu.db"
        print(f"[sqlite] generating {sh.cases:,} cases in {db} ...", flush=True)
        t0 = time.perf_counter()
        gen = generate_sqlite(db, sh)
        gen["total_s"] = time.perf_counter() - t0
        print(f"[sqlite] generated in {gen['total_s']:.1f}s: {gen['rows']}", flush=True)
        res = await measure(bench_settings(data_dir), queue_n, decide_n)
        return {"generation": gen, "measure": res}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pg_urls(admin_url: str) -> tuple[str, str, str]:
    """(asyncpg DSN of the admin database, asyncpg DSN and SQLAlchemy URL of the bench one)."""
    url = make_url(admin_url)
    if url.host not in LOCAL_HOSTS:
        raise SystemExit(f"refusing a non-local PostgreSQL host: {url.host!r}")
    bench = url.set(database=BENCH_DB)

    def dsn(u: Any) -> str:
        return u.set(drivername="postgresql").render_as_string(hide_password=False)

    return dsn(url), dsn(bench), bench.render_as_string(hide_password=False)


async def bench_postgres(admin_url: str, sh: Shape, queue_n: int, decide_n: int) -> dict:
    import asyncpg

    from qunzu.bootstrap import migrate_database

    admin_dsn, bench_dsn, bench_url = pg_urls(admin_url)
    admin = await asyncpg.connect(admin_dsn)
    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-review-pg-"))
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {BENCH_DB}")
        await migrate_database(bench_settings(tmp, bench_url))
        print(f"[postgres] generating {sh.cases:,} cases in {BENCH_DB} ...", flush=True)
        t0 = time.perf_counter()
        gen = await generate_postgres(bench_dsn, sh)
        gen["total_s"] = time.perf_counter() - t0
        print(f"[postgres] generated in {gen['total_s']:.1f}s: {gen['rows']}", flush=True)
        version = await admin.fetchval("SHOW server_version")
        res = await measure(bench_settings(tmp, bench_url), queue_n, decide_n)
        return {"generation": gen, "server_version": version, "measure": res}
    finally:
        with contextlib.suppress(Exception):
            await admin.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        await admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------------------------------------------ main

ROWS = (
    ("queue", "queue, first page (50)"),
    ("queue_category", f"queue, category={FILTER_CATEGORY}"),
    ("queue_overdue", "queue, overdue only"),
    ("decide", "decide, 2 sanctions"),
    ("queue_after_decisions", "queue, after decisions"),
    ("count_overdue", "count_overdue (info)"),
)
GOALS = ("queue", "decide")


def verdicts(results: dict[str, Any]) -> dict[str, bool]:
    out = {}
    for db in ("sqlite", "postgres"):
        res = results.get(db)
        if res:
            m = res["measure"]
            out[db] = all(m[k].get("p99", float("inf")) < GOAL_P99_MS for k in GOALS)
    return out


def report(results: dict[str, Any]) -> None:
    print()
    print(
        f"== qunzu review-queue benchmark: {results['cases']:,} open cases,"
        f" ~{results['reports_per_case']} reports each =="
    )
    mc = results["machine"]
    print(f"machine: {mc['nproc']} x {mc['cpu_model']}, {mc['memory']}, Python {mc['python']}")
    ok = verdicts(results)
    for db in ("sqlite", "postgres"):
        res = results.get(db)
        if not res:
            continue
        gen = res["generation"]
        extra = f" (PostgreSQL {res['server_version']})" if "server_version" in res else ""
        print(f"\n{db}{extra}: data generated in {gen['total_s']:.1f}s (not measured)")
        print(f"  rows: {gen['rows']}")
        m = res["measure"]
        la, lb = m["load_average_before"], m["load_average_after"]
        print(f"  load average (1 min) {la[0]:.2f} before, {lb[0]:.2f} after the measurements")
        print(f"  {'operation':<28} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  goal")
        for key, label in ROWS:
            st = m.get(key, {})
            if "p50" not in st:
                continue
            goal = ""
            if key in GOALS:
                goal = "PASS" if st["p99"] < GOAL_P99_MS else "FAIL"
                goal = f"p99 < {GOAL_P99_MS:.0f}: {goal}"
            print(
                f"  {label:<28} {st['n']:>5} {st['p50']:8.2f} {st['p95']:8.2f} {st['p99']:8.2f}"
                f"  {goal}"
            )
        print(f"  {db}: {'PASS' if ok[db] else 'FAIL'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", type=int, default=None, help="open cases (default 100,000)")
    ap.add_argument("--reports-per-case", type=int, default=10, help="average (default 10)")
    ap.add_argument("--quick", action="store_true", help="10,000 cases, fewer repetitions")
    ap.add_argument("--queue-runs", type=int, default=None, help="per queue variant (default 300)")
    ap.add_argument("--decisions", type=int, default=None, help="default 300")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true")
    ap.add_argument(
        "--postgres-url", default=DEFAULT_PG, help=f"admin database (default {DEFAULT_PG})"
    )
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()

    cases = args.cases or (10_000 if args.quick else 100_000)
    per_case = args.reports_per_case
    if cases < K or not 1 <= per_case <= 1000:
        raise SystemExit(f"--cases must be at least {K}; --reports-per-case 1..1000")
    queue_n = args.queue_runs or (100 if args.quick else 300)
    decide_n = args.decisions or (100 if args.quick else 300)
    if queue_n < 1 or decide_n < 1:
        raise SystemExit("--queue-runs and --decisions must be positive")

    sh = Shape(cases, per_case, int(time.time()))
    results: dict[str, Any] = {
        "cases": cases,
        "reports_per_case": per_case,
        "shape": {
            "groups": sh.groups,
            "members_per_group": sh.members,
            "accounts": sh.accounts + N_REVIEWERS,
            "messages_per_group": sh.seqs,
        },
        "goal_p99_ms": GOAL_P99_MS,
        "machine": machine(),
        "command": " ".join(["python", "bench/review_queue.py", *sys.argv[1:]]),
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    started = time.perf_counter()
    if not args.skip_sqlite:
        results["sqlite"] = asyncio.run(bench_sqlite(sh, queue_n, decide_n))
    if not args.skip_postgres:
        results["postgres"] = asyncio.run(bench_postgres(args.postgres_url, sh, queue_n, decide_n))
    results["elapsed_s"] = time.perf_counter() - started
    results["pass"] = verdicts(results)
    report(results)
    print(f"(whole run {results['elapsed_s']:.0f}s)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    if not all(results["pass"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
