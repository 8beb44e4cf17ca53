"""A blacklisting binds the person: through the API, the offender's second account (same
real identity) can no longer post, a new account cannot verify that identity, and the
statement of reasons says so."""

from __future__ import annotations

from qunzu.client.http import QunzuClient
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import measure
from tests.factories import People, account_id, add_member, make_group, refused, valid_resident_id


async def with_identity(people: People, prefix: str, resident_id: str) -> QunzuClient:
    client = await people.user(prefix, verified=False)
    await client.submit_identity("张三", resident_id, "13800138000")
    client.account = await client.me()
    return client


async def test_the_offenders_other_account_is_bound_by_the_blacklisting(people: People) -> None:
    resident_id = valid_resident_id()
    offender = await with_identity(people, "offender", resident_id)
    alt = await with_identity(people, "alt", resident_id)
    owner, reporter = await people.user("owner"), await people.user("reporter")
    family = await make_group(owner)
    await add_member(owner, family, alt)
    await alt.send(family["id"], "before the decision")
    public = await make_group(owner, join_policy="open", discoverable=True)
    await add_member(owner, public, offender)
    await add_member(owner, public, reporter)
    seq = (await offender.send(public["id"], "you are an idiot"))["seq"]
    receipt = await reporter.report(public["id"], "message", "insult-defamation", "rude", seq=seq)
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.decide_case(receipt["case_id"], "violation", [measure("blacklist", days=30)])

    err = await refused(alt.send(family["id"], "after the decision"))
    assert (err.status, err.code) == (403, "blacklisted")
    [twin] = [x for x in await alt.my_sanctions() if x["account_id"] == account_id(alt)]
    assert twin["person_of"] is not None
    assert "every account of the same real identity" in twin["facts"]

    newcomer = await people.user("newcomer", verified=False)
    err = await refused(newcomer.submit_identity("张三", resident_id, "13800138000"))
    assert (err.status, err.code) == (403, "identity_blacklisted")
