"""The demo world: a few verified people, groups of several categories, some conversation.

Built through the SDK against the running server, exactly as a client would.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from qunzu.client import QunzuClient
from qunzu.domain.identity import make_resident_id

DEMO_PASSWORD = "qunzu-demo-2017"


@dataclass(frozen=True)
class DemoPerson:
    handle: str
    display_name: str
    legal_name: str
    region: str
    born: date
    phone: str


PEOPLE = (
    DemoPerson("wangfang", "王芳", "王芳", "110105", date(1985, 3, 12), "13800000001"),
    DemoPerson("lilei", "Li Lei", "李雷", "310104", date(1990, 7, 1), "13800000002"),
    DemoPerson("hanmeimei", "韩梅梅", "韩梅梅", "440305", date(1991, 11, 23), "13800000003"),
    DemoPerson("zhangwei", "老张", "张伟", "510107", date(1968, 5, 30), "13800000004"),
    DemoPerson("chenjing", "Chen", "陈静", "330106", date(1995, 2, 14), "13800000005"),
)


async def build_demo_world(base_url: str) -> list[tuple[str, str]]:
    """Create the demo world; returns (handle, password) logins."""
    clients: dict[str, QunzuClient] = {}
    try:
        for i, person in enumerate(PEOPLE):
            client = QunzuClient(base_url)
            await client.register(person.handle, DEMO_PASSWORD, person.display_name)
            await client.login(person.handle, DEMO_PASSWORD, label="demo")
            await client.submit_identity(
                person.legal_name,
                make_resident_id(person.region, person.born, 100 + i),
                person.phone,
            )
            client.account = await client.me()
            clients[person.handle] = client
        wang, li, han, zhang, chen = (clients[p.handle] for p in PEOPLE)

        family = await wang.create_group(
            "王家人", "family", rules="家人群：互相尊重，不转发未经核实的消息。"
        )
        for member in (zhang,):
            inv = await wang.invite(family["id"], member.account["handle"])  # type: ignore[index]
            await member.accept_invitation(inv["id"], 1)
        asked = await wang.send(family["id"], "周日回家吃饭吗？")
        # Conversation: a reply quoting the question and mentioning its author, a group
        # nickname (群昵称), a pinned message.
        await zhang.set_nickname(family["id"], "小张")
        await zhang.send(
            family["id"],
            "回！我带水果。",
            reply_to=asked["seq"],
            mentions=[wang.account["id"]],  # type: ignore[index]
        )
        await wang.pin(family["id"], asked["seq"])

        hiking = await li.create_group(
            "周末登山队 Weekend Hikers",
            "interest",
            join_policy="open",
            discoverable=True,
            rules="1. Be kind. 2. No ads. 3. Safety first: share your route before you go.",
        )
        for member in (han, chen, wang):
            await member.join(hiking["id"], rules_version=1)
        plan = await li.send(
            hiking["id"], "Saturday: Xiangshan, meet 8:00 at the east gate.", mention_all=True
        )
        await han.send(hiking["id"], "我来！", reply_to=plan["seq"])
        await chen.send(hiking["id"], "Count me in, bringing snacks.")
        await li.set_role(hiking["id"], han.account["id"], "admin")  # type: ignore[index]

        community = await zhang.create_group(
            "阳光小区业主群",
            "community",
            join_policy="approval",
            discoverable=True,
            rules="本群用于小区事务沟通。禁止广告、谣言和人身攻击。",
        )
        request = await chen.request_join(community["id"], note="3号楼 502", rules_version=1)
        await zhang.approve_join(request["id"])
        await zhang.send(community["id"], "本周六上午停水，请提前储水。")
        await chen.send(community["id"], "收到，谢谢张师傅。")

        work = await han.create_group("产品组", "work")
        inv = await han.invite(work["id"], "lilei")
        await li.accept_invitation(inv["id"])
        await han.send(work["id"], "Spec review at 15:00.")

        direct = await wang.open_direct("hanmeimei")
        await wang.send(direct["id"], "在吗？")
        await han.send(direct["id"], "在的～")
        # The world is searchable as soon as it is made: 吃饭 is in the family group.
        found = await zhang.search("吃饭")
        if not found["results"]:
            raise RuntimeError("the demo world's messages are not searchable")
    finally:
        for client in clients.values():
            await client.aclose()
    return [(p.handle, DEMO_PASSWORD) for p in PEOPLE]
