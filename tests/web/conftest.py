"""Fixtures for the web app's tests: a real server, and browser-like HTTP clients that
keep cookies and read each page's CSRF token the way a form would."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from qunzu.domain.clock import FrozenClock
from tests.factories import PASSWORD, unique_handle, valid_resident_id
from tests.server import ServerThread, test_settings

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = ServerThread(test_settings(tmp_path_factory.mktemp("qunzu-web"))).start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def clocked_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = ServerThread(
        test_settings(tmp_path_factory.mktemp("qunzu-web-clock")), clock=FrozenClock()
    ).start()
    yield thread
    thread.stop()


class Browser:
    """An HTTP client that behaves like a browser without JavaScript."""

    def __init__(self, base_url: str, lang: str = "zh-CN") -> None:
        self.http = httpx.Client(
            base_url=base_url, headers={"accept-language": lang}, follow_redirects=False
        )
        self.handle = ""
        self.last = ""

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, follow: bool = True) -> httpx.Response:
        response = self.http.get(path, follow_redirects=follow)
        self.last = response.text
        return response

    def csrf(self, path: str = "/login") -> str:
        match = _CSRF.search(self.last) or _CSRF.search(self.get(path).text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf: str | None = None,
        follow: bool = True,
        fetch: bool = False,
    ) -> httpx.Response:
        fields = dict(data or {})
        fields["csrf"] = csrf if csrf is not None else self.csrf()
        headers = {"x-qunzu-fetch": "1"} if fetch else {}
        response = self.http.post(path, data=fields, headers=headers, follow_redirects=follow)
        self.last = response.text
        return response

    def sign_up(self, prefix: str = "web", name: str | None = None, verify: bool = True) -> str:
        self.handle = unique_handle(prefix)
        page = self.get("/signup").text
        version = re.search(r'name="agreement_version" value="(\d+)"', page)
        assert version
        response = self.post(
            "/signup",
            {
                "handle": self.handle,
                "display_name": name or self.handle,
                "password": PASSWORD,
                "password2": PASSWORD,
                "agree": "yes",
                "agreement_version": version.group(1),
            },
        )
        assert response.status_code == 200, response.text[:500]
        if verify:
            self.get("/me/identity")
            done = self.post(
                "/me/identity",
                {"legal_name": "张三", "resident_id": valid_resident_id(), "phone": "13800138000"},
            )
            assert "已实名" in done.text or "Verified" in done.text
        return self.handle

    def create_group(self, name: str = "测试群", rules: str = "", **extra: str) -> int:
        self.get("/groups/new")
        fields = {"name": name, "category": "friends", "join_policy": "invite-only"}
        if rules:
            fields["rules"] = rules
        fields.update(extra)
        response = self.post("/groups/new", fields, follow=False)
        assert response.status_code == 303, response.text[:500]
        match = re.match(r"/g/(\d+)$", response.headers["location"])
        assert match, response.headers["location"]
        return int(match.group(1))


@pytest.fixture
def new_browser(web: ServerThread) -> Iterator[Callable[..., Browser]]:
    made: list[Browser] = []

    def make(lang: str = "zh-CN", server: ServerThread | None = None) -> Browser:
        browser = Browser((server or web).url, lang)
        made.append(browser)
        return browser

    yield make
    for browser in made:
        browser.close()
