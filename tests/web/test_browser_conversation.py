"""Reply, mention and recall in the web timeline, two people in Chromium: the reply shows
its quote and marks the mentioned member's copy; a recall turns the message into
"recalled" on the other person's open page, live."""

from __future__ import annotations

import re

from playwright.sync_api import Browser

from tests.server import ServerThread
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    Person,
    chromium,
    expect,
    group_with,
    join,
    people,
    playwright,
    send,
)


def _seq_of(page_html: str, text: str) -> int:
    found = re.findall(r'<li id="e-(\d+)"[^>]*>(?:(?!</li>).)*?' + re.escape(text), page_html, re.S)
    assert found, text
    return int(found[-1])


def test_reply_mention_and_recall_in_the_live_timeline(
    chromium: Browser,  # noqa: F811
    web: ServerThread,
    people: list[Person],  # noqa: F811
) -> None:
    amy = join(chromium, web, people, "amy", "Amy")
    bo = join(chromium, web, people, "bo", "Bo")
    gid = group_with(amy, bo, name="晚饭群")
    ap, bp = amy.go(f"/g/{gid}"), bo.go(f"/g/{gid}")

    send(bp, "晚饭吃什么？")
    expect(ap.locator("#timeline .body", has_text="晚饭吃什么？")).to_have_count(1)
    asked = _seq_of(amy.http.get(f"/g/{gid}").text, "晚饭吃什么？")

    # Amy replies from the message's page and mentions Bo by handle.
    amy.go(f"/g/{gid}/m/{asked}")
    amy.check_accessibility()
    ap.get_by_label("回复Bo").fill(f"@{bo.http.handle} 饺子")
    ap.get_by_role("button", name="回复", exact=True).click()
    expect(ap.locator("#timeline")).to_be_visible()
    reply = bp.locator("#timeline li.entry.mentioned", has_text="饺子")
    expect(reply).to_have_count(1)
    expect(reply.locator(".quote")).to_contain_text("晚饭吃什么？")
    expect(reply.locator(".quote .name")).to_have_text("Bo")
    bo.check_accessibility()

    # Amy posts in the wrong group and recalls it: Bo's open page shows "recalled".
    ap = amy.go(f"/g/{gid}")
    send(ap, "发错群了：明天开会")
    expect(bp.locator("#timeline .body", has_text="发错群了：明天开会")).to_have_count(1)
    wrong = _seq_of(amy.http.get(f"/g/{gid}").text, "发错群了：明天开会")
    amy.go(f"/g/{gid}/m/{wrong}")
    ap.get_by_role("button", name="撤回").click()
    expect(bp.locator(f"#e-{wrong} .body")).to_have_text("此消息已撤回")
    expect(bp.locator("#timeline .body", has_text="发错群了")).to_have_count(0)
    expect(bp.locator("#timeline .event-text", has_text="撤回了一条消息")).to_have_count(1)
    # A reload shows the same: the text is never served to members again.
    assert "发错群了" not in bo.http.get(f"/g/{gid}").text
