"""Attachments in the web timeline: thumbnails, voice notes and file links, each through
/a/<id>/<variant>, which redirects a viewer who may see it to a signed link."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from tests.factories import PASSWORD
from tests.media import image_bytes, ogg_opus
from tests.server import ServerThread
from tests.web.conftest import Browser

NewBrowser = Callable[..., Browser]


def api(web: ServerThread, browser: Browser) -> httpx.Client:
    """An API client of the browser's account: a bearer token of its own (a web session
    cookie is not a bearer token)."""
    login = httpx.post(
        f"{web.url}/v1/sessions", json={"handle": browser.handle, "password": PASSWORD}
    )
    assert login.status_code == 201, login.text
    token = login.json()["token"]
    return httpx.Client(base_url=web.url, headers={"authorization": f"Bearer {token}"})


def test_the_timeline_shows_an_image_a_voice_note_and_a_file_link(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    owner = new_browser()
    owner.sign_up("att")
    group_id = owner.create_group("相册")
    with api(web, owner) as http:
        ids = []
        for name, data in (
            ("p.png", image_bytes("PNG")),
            ("v.ogg", ogg_opus(1.0)),
            ("doc.pdf", b"%PDF-1.4 not really"),
        ):
            answer = http.post("/v1/uploads", params={"name": name}, content=data)
            assert answer.status_code == 201, answer.text
            ids.append(answer.json()["id"])
        sent = http.post(
            f"/v1/groups/{group_id}/messages",
            json={"body": "三个附件", "client_txn_id": "att-1", "attachments": ids},
        )
        assert sent.status_code == 201, sent.text
    page = owner.get(f"/g/{group_id}")
    image, voice, file = ids
    assert f'<img src="/a/{image}/thumbnail"' in page.text
    assert f'<audio controls preload="none" src="/a/{voice}/content"' in page.text
    assert f'href="/a/{file}/content" download' in page.text
    assert "media-src 'self'" in page.headers["content-security-policy"]
    thumb = owner.get(f"/a/{image}/thumbnail")
    assert (thumb.status_code, thumb.headers["content-type"]) == (200, "image/jpeg")
    download = owner.get(f"/a/{file}/content")
    assert download.headers["content-disposition"].startswith("attachment;")


def test_an_attachment_link_does_not_serve_an_outsider(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    owner, outsider = new_browser(), new_browser()
    owner.sign_up("att")
    outsider.sign_up("out")
    with api(web, owner) as http:
        upload = http.post("/v1/uploads", params={"name": "x.png"}, content=image_bytes("PNG"))
    answer = outsider.get(f"/a/{upload.json()['id']}/content", follow=False)
    assert answer.status_code == 404
