"""The search box on a group page and the results page, through plain forms."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.web.conftest import Browser

NewBrowser = Callable[..., Browser]


def test_the_group_page_searches_that_group_and_marks_the_words_found(
    new_browser: NewBrowser,
) -> None:
    b = new_browser()
    b.sign_up("searcher")
    gid = b.create_group("饭搭子")
    other = b.create_group("别的群")
    b.post(f"/g/{gid}/send", {"body": "今晚一起吃晚饭<b>吧</b>", "client_txn_id": "s-1"})
    b.post(f"/g/{other}/send", {"body": "别的群也吃晚饭", "client_txn_id": "s-2"})
    group_page = b.get(f"/g/{gid}").text
    assert 'action="/search"' in group_page and f'name="group" value="{gid}"' in group_page

    found = b.get(f"/search?q=晚饭&group={gid}")
    assert found.status_code == 200
    assert "<mark>晚饭</mark>" in found.text
    assert "&lt;b&gt;" in found.text  # the message's text is escaped, never markup
    assert len(re.findall(r'href="/g/\d+/m/\d+"', found.text)) == 1

    everywhere = b.get("/search?q=晚饭").text
    assert len(re.findall(r'href="/g/\d+/m/\d+"', everywhere)) == 2


def test_a_refused_search_says_why_in_the_viewers_language(new_browser: NewBrowser) -> None:
    b = new_browser()
    b.sign_up("searcher")
    refused = b.get("/search?q=晚")
    assert refused.status_code == 400
    assert "搜索词至少 2 个字符" in refused.text
    english = new_browser("en")
    english.sign_up("searcher")
    assert "No messages found." in english.get("/search?q=nothing").text
