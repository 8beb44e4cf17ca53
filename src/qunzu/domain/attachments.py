"""Attachments (附件): what an upload is, decided from its bytes, and what a name may be.

The client's word (its Content-Type, its file name's extension) never decides the type:
the first bytes do (``sniff``). A client that declares an image or a voice note whose
bytes say otherwise is refused (``check_declared``) rather than silently stored as a
download, so a mislabelled file cannot slip past the image checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.domain.text import TextKind, text_problem


class TooLarge(DomainError):
    """The content is larger than the rulebook allows (413)."""

    kind = "too_large"


class UnsupportedMedia(DomainError):
    """The content is not what it says it is, or not a type that may be stored (415)."""

    kind = "unsupported_media"


class AttachmentKind(StrEnum):
    image = "image"
    voice = "voice"
    file = "file"


# Bytes needed to decide a type (an MP4 brand sits at 8..12; an Opus head in Ogg's first page).
SNIFF_BYTES = 64
GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream"})
MAX_NAME_CHARS = 120


@dataclass(frozen=True, slots=True)
class Sniffed:
    kind: AttachmentKind
    mime: str


def sniff(head: bytes) -> Sniffed:
    """The type of content starting with ``head`` (its first ``SNIFF_BYTES`` bytes)."""
    if head.startswith(b"\xff\xd8\xff"):
        return Sniffed(AttachmentKind.image, "image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Sniffed(AttachmentKind.image, "image/png")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Sniffed(AttachmentKind.image, "image/gif")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Sniffed(AttachmentKind.image, "image/webp")
    if head.startswith(b"OggS") and b"OpusHead" in head:
        return Sniffed(AttachmentKind.voice, "audio/ogg")
    if head[4:8] == b"ftyp" and head[8:12] in (b"M4A ", b"M4B "):
        return Sniffed(AttachmentKind.voice, "audio/mp4")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0:
        return Sniffed(AttachmentKind.voice, "audio/aac")  # ADTS: sync word, layer 0
    return Sniffed(AttachmentKind.file, "application/octet-stream")


def check_declared(declared: str | None, sniffed: Sniffed) -> None:
    """Refuse content whose declared image or audio type its bytes contradict."""
    base = (declared or "").split(";", 1)[0].strip().lower()
    if base in GENERIC_TYPES:
        return
    family = base.partition("/")[0]
    if family == "image" and base != sniffed.mime:
        raise UnsupportedMedia(
            "type_mismatch",
            f"The content is not {base}: its bytes say {sniffed.mime}.",
            declared=base,
        )
    if family == "audio" and sniffed.kind is not AttachmentKind.voice:
        raise UnsupportedMedia(
            "type_mismatch", f"The content is not {base}: it is not a voice note.", declared=base
        )


# Markup a browser might run if it ever sniffed an image as HTML: an image holding it is
# a polyglot, refused whatever else it is.
_MARKUP = re.compile(rb"<(?:html|script|body|iframe|svg|!doctype)", re.IGNORECASE)


def looks_like_markup(chunk: bytes) -> bool:
    return _MARKUP.search(chunk) is not None


def check_name(name: str) -> str:
    """A file name as shown and offered for download: one plain name, never a path.

    Refused (``bad_file_name``) rather than rewritten, so what the sender sees is what is
    stored: path separators, ``.``/``..``, control and bidi characters (an RTL override
    can make ``gpj.exe`` read as ``exe.jpg``), and names over ``MAX_NAME_CHARS``."""
    name = name.strip()
    problem = text_problem(name, TextKind.line)
    if problem is None and ("/" in name or "\\" in name):
        problem = "a path separator"
    if problem is None and name in ("", ".", ".."):
        problem = "no name"
    if problem is None and len(name) > MAX_NAME_CHARS:
        problem = f"more than {MAX_NAME_CHARS} characters"
    if problem is not None:
        raise InvalidInput("bad_file_name", f"The file name cannot have {problem}.")
    return name


def check_size(declared: int | None, received: int, cap: int) -> None:
    """Refuse content past ``cap`` bytes, as soon as it is declared or received."""
    if (declared is not None and declared > cap) or received > cap:
        raise TooLarge(
            "upload_too_large", f"Uploads at your credit level are at most {cap} bytes.", limit=cap
        )


def check_pixels(width: int, height: int, max_pixels: int) -> None:
    """Refuse an image whose header claims more pixels than the rulebook allows: checked
    before any pixel is decoded, so a small file cannot expand into gigabytes."""
    if width <= 0 or height <= 0:
        raise InvalidInput("image_unreadable", "The image has no size.")
    if width * height > max_pixels:
        raise InvalidInput(
            "image_too_many_pixels",
            f"The image has {width}x{height} pixels; at most {max_pixels} are accepted.",
            limit=max_pixels,
        )


def check_attachment_count(count: int, max_per_message: int) -> None:
    if count > max_per_message:
        raise InvalidInput(
            "too_many_attachments",
            f"A message may carry at most {max_per_message} attachments.",
            limit=max_per_message,
        )


@dataclass(frozen=True, slots=True)
class Upload:
    """A stored upload: its content by SHA-256 (shared by identical uploads), who sent it."""

    id: int
    owner_id: int
    created_at: datetime
    name: str
    kind: AttachmentKind
    mime: str
    size: int
    sha256: str
    thumb_sha256: str | None = None
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None

    def wire(self) -> dict[str, object]:
        """The attachment as it appears in a message's ``data.attachments``."""
        out: dict[str, object] = {
            "id": self.id,
            "kind": self.kind.value,
            "name": self.name,
            "mime": self.mime,
            "size": self.size,
        }
        if self.width is not None:
            out["width"], out["height"] = self.width, self.height
        if self.thumb_sha256 is not None:
            out["thumbnail"] = True
        if self.duration_ms is not None:
            out["duration_ms"] = self.duration_ms
        return out


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    """``[uploads]`` of the rulebook."""

    max_bytes_by_level: tuple[int, ...] = (0, 10_485_760, 26_214_400, 52_428_800, 104_857_600)
    max_per_message: int = 9
    max_image_pixels: int = 40_000_000
    unreferenced_hours: int = 24
    url_ttl_seconds: int = 300

    def max_bytes(self, level: int) -> int:
        levels = self.max_bytes_by_level
        return levels[min(max(level, 0), len(levels) - 1)]
