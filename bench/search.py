"""Message search on SQLite: one million messages over 1,000 groups, a member of 50 searching.

A benchmark, not a test. It builds the app as ``qunzu serve`` does (SQLite in a
temporary data dir, migrated, the posting quotas raised out of reach as in
bench/fanout.py), then writes the corpus straight into the file with ``sqlite3``
(timeline rows and their index entries, the tokens made by ``domain/search.py`` as a
send makes them): dictionary words weighted by rank (Zipf), about 20 characters a
message, Zipf-sized groups, 2% removed (half of those with their index entry left
behind, which the query must still hide). The searcher belongs to 50 groups, in ten of
them joined half-way (the visible window).

Rows, each over every query of its class, three rounds, wall time per call of
``services.search.search_messages`` (the route calls just this; no HTTP):

2-char    frequent two-character words (晚饭, 开会 …)
2-char rare  rare two-character words
3+ chars  longer Chinese, including strings segmenters split (美国人民)
Latin     words and prefixes, any case

Each query's first page is checked against a brute-force scan of the searcher's
visible messages (``exact`` column). Then the send path: ``do_send_message`` per call
with the index, and with the index switched off (a no-op ``MessageSearch``), in
alternating blocks in the same process on the same million-message file: the ratio is
what indexing costs a send (CPU time per call, as bench/send_path.py measures).

    python bench/search.py                    # 1,000,000 messages
    python bench/search.py --messages 100000  # quicker
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PASSWORD = "bench password 1"

# Word lists as text: one string per list reads better than a column of literals.
FREQUENT = str.split(
    "晚饭 开会 明天 今天 我们 你们 他们 时间 工作 问题 孩子 老师 学校 医院 周末 "
    "下午 上午 晚上 朋友 电话 地址 照片 视频 红包 谢谢 辛苦 好的 收到 一起 回家 "
    "吃饭 睡觉 出发 到了 快递 天气 下雨 妈妈 爸爸 老婆 老公 公司 领导 会议 文件 "
    "通知 报名 活动 比赛 生日 快乐 新年 春节 中秋 放假 上班 下班 加班 早饭 午饭"
)
RARE = str.split("饕餮 耄耋 龃龉 踌躇 缱绻 氤氲 旖旎 囹圄 魑魅 魍魉 蹀躞 龌龊 鳏寡 觊觎 罹难")
LONGER = str.split(
    "美国人民 人民币 中华人民共和国 北京大学 上海交通 社区团购 家长会 体检报告 "
    "高铁票 火锅店 健身房 幼儿园 班主任 物业费 停车位 双十一 年终奖 房贷利率"
)
LATIN = str.split(
    "zoom wechat meeting ok iphone pdf excel email link http www app update "
    "android github python docker kpi okr deadline hello thanks bye 2026 100 3pm"
)
PUNCT = ["，", "。", " ", "！", "？", " ", "、", ""]

QUERIES = {
    "2-char": ["晚饭", "开会", "明天", "红包", "周末", "快递", "老师", "放假"],
    "2-char rare": ["饕餮", "耄耋", "龃龉", "缱绻", "氤氲", "囹圄"],
    "3+ chars": ["美国人民", "人民币", "北京大学", "家长会", "年终奖", "房贷利率", "晚饭时间"],
    "Latin": ["zoom", "Meeting", "WeChat", "pdf", "deadline", "githu", "2026", "3pm"],
}


def vocabulary() -> tuple[list[str], list[float]]:
    words = FREQUENT + LONGER + LATIN + RARE
    weights = [1 / (rank + 1) ** 1.05 for rank in range(len(words))]
    return words, weights


def sqlite_ts(moment: datetime) -> str:
    # What storage/tables.UTCDateTime stores on SQLite: naive UTC, SQLAlchemy's text form.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def fill(db: Path, owner_id: int, n_messages: int, n_groups: int, seed: int) -> list[int]:
    """Write groups and messages straight into the file; the groups' ids, largest first."""
    from qunzu.storage.search_repo import sqlite_doc

    rng = random.Random(seed)
    words, weights = vocabulary()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    conn.execute("BEGIN")
    first = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM groups").fetchone()[0]
    group_ids = list(range(first, first + n_groups))
    conn.executemany(
        "INSERT INTO groups (id, number, kind, name, category, join_policy, discoverable, "
        "owner_id, state, created_at, last_seq, rules_version, member_count) "
        "VALUES (?, ?, 'group', ?, 'friends', 'invite-only', 0, ?, 'active', ?, 0, 0, 1)",
        [(g, 90_000_000 + g, f"群{g}", owner_id, sqlite_ts(start)) for g in group_ids],
    )
    conn.execute("COMMIT")
    sizes = [1 / (rank + 1) ** 0.8 for rank in range(n_groups)]
    seqs = dict.fromkeys(group_ids, 0)
    doc_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM message_search").fetchone()[0]
    batch = 20_000
    for begin in range(0, n_messages, batch):
        rows, index_rows, docs = [], [], []
        chosen = rng.choices(group_ids, weights=sizes, k=min(batch, n_messages - begin))
        for i, group_id in enumerate(chosen, start=begin):
            seqs[group_id] += 1
            parts = []
            for word in rng.choices(words, weights=weights, k=rng.randint(3, 7)):
                parts += [word, rng.choice(PUNCT)]
            body = "".join(parts)
            removed = rng.random() < 0.02
            at = sqlite_ts(start + timedelta(seconds=i))
            rows.append(
                (group_id, seqs[group_id], owner_id, f"b{i}", None if removed else body, at)
            )
            if not removed or rng.random() < 0.5:  # half the removed keep a stale entry
                doc_id += 1
                index_rows.append((doc_id, group_id, seqs[group_id]))
                docs.append((doc_id, sqlite_doc(body)))
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO timeline (group_id, seq, kind, sender_id, client_txn_id, body, "
            "data, created_at) VALUES (?, ?, 'message', ?, ?, ?, NULL, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO message_search (id, group_id, seq) VALUES (?, ?, ?)", index_rows
        )
        conn.executemany("INSERT INTO message_search_fts (rowid, doc) VALUES (?, ?)", docs)
        conn.execute("COMMIT")
    conn.execute("BEGIN")
    conn.executemany(
        "UPDATE groups SET last_seq = ? WHERE id = ?", [(s, g) for g, s in seqs.items()]
    )
    conn.execute("UPDATE message_search_state SET indexed_upto = ?", (doc_id,))
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return group_ids


def join(db: Path, account_id: int, group_ids: list[int], rng: random.Random) -> dict[int, int]:
    """The searcher joins 50 groups (ten of them half-way through): group -> joined seq."""
    conn = sqlite3.connect(db, isolation_level=None)
    last = dict(conn.execute("SELECT id, last_seq FROM groups").fetchall())
    mine = rng.sample(group_ids, 50)
    joined = {g: (last[g] // 2 if i < 10 else 1) for i, g in enumerate(mine)}
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO memberships (group_id, account_id, role, state, joined_at, joined_seq, "
        "left_seq, accepted_rules_version) VALUES (?, ?, 'member', 'active', ?, ?, NULL, 0)",
        [
            (g, account_id, sqlite_ts(datetime(2026, 1, 1, tzinfo=UTC)), j)
            for g, j in joined.items()
        ],
    )
    conn.execute("COMMIT")
    conn.close()
    return joined


def brute_force(db: Path, joined: dict[int, int], query: Any, limit: int) -> list[tuple[int, int]]:
    """The first page by a scan of every visible message: newest (index order) first."""
    from qunzu.domain.search import matches

    conn = sqlite3.connect(db)
    marks = ",".join("?" * len(joined))
    rows = conn.execute(
        "SELECT s.group_id, s.seq, t.body FROM message_search s JOIN timeline t "
        "ON t.group_id = s.group_id AND t.seq = s.seq "
        f"WHERE s.group_id IN ({marks}) AND t.body IS NOT NULL ORDER BY s.id DESC",
        list(joined),
    )
    found = []
    for group_id, seq, body in rows:
        if seq >= joined[group_id] and matches(query, body):
            found.append((group_id, seq))
            if len(found) == limit:
                break
    conn.close()
    return found


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def measure(n_messages: int, n_groups: int, sends: int) -> dict[str, Any]:
    import fanout

    from qunzu.api import create_app
    from qunzu.config import Settings
    from qunzu.domain.identity import make_resident_id
    from qunzu.domain.models import GroupCategory
    from qunzu.domain.search import parse_query
    from qunzu.services import messaging, search
    from qunzu.services.accounts import authenticate, do_login, do_register
    from qunzu.services.groups import do_create_group
    from qunzu.services.identity import do_submit_identity
    from qunzu.storage import uow as uow_module

    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-search-"))
    rulebook = tmp / "rulebook.toml"
    fanout.bench_rulebook(rulebook)
    settings = Settings(
        environment="test",
        data_dir=tmp / "data",
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        rulebook_files=[str(rulebook)],
    )
    app = create_app(settings)
    out: dict[str, Any] = {"latency": {}, "exact": {}}
    async with app.router.lifespan_context(app):
        ctx = app.state.qunzu.ctx
        await do_register(ctx, "searcher", PASSWORD)
        token = (await do_login(ctx, "searcher", PASSWORD)).token
        actor = await authenticate(ctx, token)
        resident = make_resident_id("310104", date(1990, 1, 1), 7)
        await do_submit_identity(ctx, actor, "张三", resident, "13800138000")
        actor = await authenticate(ctx, token)
        own = await do_create_group(ctx, actor, "发送", GroupCategory.friends)
        db = settings.data_dir / "qunzu.db"
        t0 = time.perf_counter()
        group_ids = fill(db, actor.id, n_messages, n_groups, seed=7)
        joined = join(db, actor.id, group_ids, random.Random(11))
        out["fill_seconds"] = time.perf_counter() - t0
        out["db_mb"] = sum(p.stat().st_size for p in db.parent.glob("qunzu.db*")) / 1e6
        policy = ctx.rulebooks.in_force(ctx.clock.now()).search
        for kind, queries in QUERIES.items():
            times: list[float] = []
            exact = True
            for q in queries:
                page = None
                for _ in range(3):
                    ctx.search_rate.events.clear()
                    start = time.perf_counter()
                    page = await search.search_messages(ctx, actor, q)
                    times.append((time.perf_counter() - start) * 1e3)
                assert page is not None
                query = parse_query(q, policy.min_chars, policy.max_chars, policy.max_terms)
                got = [(r.group_id, r.seq) for r in page.results]
                exact &= got == brute_force(db, joined, query, 20)
            out["latency"][kind] = (statistics.median(times), pct(times, 0.99), len(times))
            out["exact"][kind] = exact
        out["send_us"] = await send_costs(ctx, actor, own.id, sends, messaging, uow_module)
    return out


class _NoIndex:
    async def add(self, entry: Any) -> None:
        return None

    async def forget(self, group_id: int, seq: int) -> None:
        return None

    async def candidates(self, *args: Any) -> list[Any]:
        return []


async def send_costs(
    ctx: Any, actor: Any, group_id: int, sends: int, messaging: Any, uow_module: Any
) -> dict[str, float]:
    """``do_send_message`` CPU µs per call (as bench/send_path.py: steadier than wall time
    on a shared machine) with the index and without, in alternating blocks."""
    real = uow_module.make_search
    words, weights = vocabulary()
    rng = random.Random(3)
    bodies = ["".join(rng.choices(words, weights=weights, k=5)) for _ in range(1000)]
    totals = {"indexed": 0.0, "not indexed": 0.0}
    count = 0
    for block in range(10):
        for mode in ("indexed", "not indexed") if block % 2 else ("not indexed", "indexed"):
            uow_module.make_search = real if mode == "indexed" else (lambda conn: _NoIndex())
            start = time.process_time()
            for _ in range(sends // 10):
                n = count = count + 1
                await messaging.do_send_message(ctx, actor, group_id, bodies[n % 1000], f"s{n}")
            totals[mode] += time.process_time() - start
    uow_module.make_search = real
    return {mode: total / sends * 1e6 for mode, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--sends", type=int, default=4000, help="sends per mode (4,000)")
    args = parser.parse_args()
    out = asyncio.run(measure(args.messages, args.groups, args.sends))
    print(
        f"{args.messages:,} messages, {args.groups:,} groups, searcher in 50; "
        f"filled in {out['fill_seconds']:.0f} s; database {out['db_mb']:.0f} MB"
    )
    print(f"{'query':<12} {'p50 ms':>8} {'p99 ms':>8} {'calls':>6} {'exact':>6}")
    for kind, (p50, p99, calls) in out["latency"].items():
        exact = "yes" if out["exact"][kind] else "NO"
        print(f"{kind:<12} {p50:>8.2f} {p99:>8.2f} {calls:>6} {exact:>6}")
    sends = out["send_us"]
    ratio = sends["indexed"] / sends["not indexed"]
    print(
        f"send (CPU): {sends['not indexed']:.0f} µs without the index, {sends['indexed']:.0f} µs "
        f"with it: x{ratio:.2f} (+{sends['indexed'] - sends['not indexed']:.0f} µs)"
    )


if __name__ == "__main__":
    main()
