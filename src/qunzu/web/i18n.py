"""Languages and message catalogs: zh-CN by default, and English.

Every string a page shows comes from ``locales/<lang>.json`` (one flat key -> text map
per language, kept side by side; tests/web/test_i18n.py checks both have the same keys
and that every key the templates and code use exists). Placeholders are ``{name}`` and
are filled with ``str.format_map``; the result is escaped by the template like any text.

The language is the ``qz_lang`` cookie when set (the switch in the header sets it),
else the first of ``Accept-Language`` we speak, else zh-CN.
"""

from __future__ import annotations

import contextlib
import json
import string
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from qunzu.domain.errors import DomainError

LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"
DEFAULT_TZ = "Asia/Shanghai"
# Time zones offered in settings; any valid IANA name is accepted from the cookie.
COMMON_TZS = (
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Tokyo",
    "Asia/Singapore",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
)


@cache
def catalog(lang: str) -> dict[str, str]:
    text = files("qunzu.web").joinpath("locales", f"{lang}.json").read_text("utf-8")
    data: dict[str, str] = json.loads(text)
    return data


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    if cookie in LANGS:
        return cookie
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _q, _i, tag in sorted(ranked):
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANG


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or DEFAULT_TZ)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TZ)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Lenient(dict[str, Any]):
    """A placeholder with no value stays visible rather than failing the page."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        self.lang = lang if lang in LANGS else DEFAULT_LANG
        self.tz = tz
        self._messages = catalog(self.lang)

    def __call__(self, key: str, **params: Any) -> str:
        text = self._messages.get(key)
        if text is None:
            text = catalog(DEFAULT_LANG).get(key, key)
        return text.format_map(_Lenient(params)) if params else text

    def has(self, key: str) -> bool:
        return key in self._messages

    def pick(self, zh: str, en: str) -> str:
        """Text the rulebook carries in both languages."""
        return zh if self.lang == "zh-CN" else en

    # ---- times ------------------------------------------------------------------------

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz)

    def when(self, moment: datetime | None, now: datetime | None = None) -> str:
        """A short time: the clock for today, the date for older moments."""
        if moment is None:
            return ""
        local = self.local(moment)
        today = self.local(now) if now is not None else None
        clock = f"{local.hour:02d}:{local.minute:02d}"  # f-strings: 50 a page, strftime is slow
        if today is not None and local.date() == today.date():
            return clock
        if self.lang == "zh-CN":
            if today is not None and local.year == today.year:
                return f"{local.month}月{local.day}日 {clock}"
            return f"{local.year}年{local.month}月{local.day}日 {clock}"
        month = _MONTHS[local.month - 1]
        if today is not None and local.year == today.year:
            return f"{local.day} {month} {clock}"
        return f"{local.day} {month} {local.year} {clock}"

    def full(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        local = self.local(moment)
        clock = f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} ({local.tzname()})"
        if self.lang == "zh-CN":
            return f"{local.year}年{local.month}月{local.day}日 {clock}"
        return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {clock}"

    # ---- refusals ---------------------------------------------------------------------

    def error(self, exc: DomainError) -> str:
        """A refusal's problem ``detail`` in the viewer's language.

        The services word their details in English; each stable ``code`` may have a
        catalog entry ``error.<code>`` that takes the error's extra fields. A code without
        one shows the service's own detail (in English), never nothing."""
        key = f"error.{exc.code}"
        if key not in self._messages:
            return exc.detail
        params: dict[str, Any] = {}
        for name, value in exc.extra.items():
            if isinstance(value, str) and name in ("until", "respond_by", "appeal_until"):
                with contextlib.suppress(ValueError):
                    value = self.full(datetime.fromisoformat(value))
            params[name] = value
        return self(key, **params)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
