"""The attachment rules in the domain: type from magic bytes, declared types checked,
names refused rather than rewritten, caps by credit level."""

from __future__ import annotations

import pytest

from qunzu.domain.attachments import (
    AttachmentKind,
    TooLarge,
    UnsupportedMedia,
    UploadPolicy,
    check_attachment_count,
    check_declared,
    check_name,
    check_pixels,
    check_size,
    looks_like_markup,
    sniff,
)
from qunzu.domain.errors import InvalidInput

HEADS = {
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF", AttachmentKind.image, "image/jpeg"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00", AttachmentKind.image, "image/png"),
    "gif": (b"GIF89a\x01\x00", AttachmentKind.image, "image/gif"),
    "webp": (b"RIFF\x00\x00\x00\x00WEBPVP8 ", AttachmentKind.image, "image/webp"),
    "opus": (b"OggS\x00\x02" + b"\x00" * 22 + b"OpusHead", AttachmentKind.voice, "audio/ogg"),
    "m4a": (b"\x00\x00\x00\x20ftypM4A \x00", AttachmentKind.voice, "audio/mp4"),
    "adts": (b"\xff\xf1\x50\x80", AttachmentKind.voice, "audio/aac"),
    "vorbis": (b"OggS\x00\x02" + b"\x00" * 22 + b"\x01vorbis", AttachmentKind.file, None),
    "mp4 video": (b"\x00\x00\x00\x20ftypisom\x00", AttachmentKind.file, None),
    "pdf": (b"%PDF-1.7", AttachmentKind.file, None),
    "html": (b"<!doctype html>", AttachmentKind.file, None),
}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_the_type_comes_from_the_first_bytes(name: str) -> None:
    head, kind, mime = HEADS[name]
    found = sniff(head)
    assert found.kind is kind
    assert found.mime == (mime or "application/octet-stream")


@pytest.mark.parametrize("declared", [None, "", "application/octet-stream", "application/pdf"])
def test_a_generic_or_non_media_declared_type_is_not_held_against_the_bytes(
    declared: str | None,
) -> None:
    check_declared(declared, sniff(b"%PDF-1.7"))


@pytest.mark.parametrize(
    ("declared", "head"),
    [("image/png", HEADS["jpeg"][0]), ("image/jpeg", b"hello"), ("audio/ogg", HEADS["png"][0])],
)
def test_a_declared_image_or_audio_type_the_bytes_contradict_is_refused(
    declared: str, head: bytes
) -> None:
    with pytest.raises(UnsupportedMedia) as refused:
        check_declared(declared, sniff(head))
    assert refused.value.code == "type_mismatch"


def test_a_declared_type_with_parameters_is_read_by_its_base() -> None:
    check_declared("image/jpeg; charset=binary", sniff(HEADS["jpeg"][0]))


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "a/b.jpg",
        "..\\boot.ini",
        "..",
        ".",
        "",
        "photo\u202egpj.exe",
        "a\nb",
        "a\x00",
        "x" * 121,
    ],
)
def test_a_name_that_is_a_path_or_hides_characters_is_refused(name: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_name(name)
    assert refused.value.code == "bad_file_name"


@pytest.mark.parametrize("name", ["照片.jpg", "report 2026.pdf", "ملف.txt", ".hidden"])
def test_a_plain_name_in_any_script_is_kept(name: str) -> None:
    assert check_name(name) == name


def test_the_cap_follows_the_credit_level_and_the_last_one_holds_above() -> None:
    policy = UploadPolicy(max_bytes_by_level=(0, 10, 20))
    assert [policy.max_bytes(level) for level in (-1, 0, 1, 2, 9)] == [0, 0, 10, 20, 20]


def test_size_is_refused_from_the_declared_length_or_the_bytes_received() -> None:
    check_size(10, 10, 10)
    for declared, received in ((11, 0), (None, 11)):
        with pytest.raises(TooLarge) as refused:
            check_size(declared, received, 10)
        assert (refused.value.code, refused.value.extra["limit"]) == ("upload_too_large", 10)


def test_pixels_past_the_rulebooks_limit_are_refused() -> None:
    check_pixels(100, 100, 10_000)
    with pytest.raises(InvalidInput) as refused:
        check_pixels(101, 100, 10_000)
    assert refused.value.code == "image_too_many_pixels"


def test_attachments_past_the_per_message_cap_are_refused() -> None:
    check_attachment_count(9, 9)
    with pytest.raises(InvalidInput) as refused:
        check_attachment_count(10, 9)
    assert refused.value.code == "too_many_attachments"


@pytest.mark.parametrize("chunk", [b"..<SCRIPT>..", b"<html>", b"x<svg ", b"<!DOCTYPE html>"])
def test_markup_is_found_in_any_case(chunk: bytes) -> None:
    assert looks_like_markup(chunk)


def test_image_bytes_without_markup_are_not_markup() -> None:
    assert not looks_like_markup(b"\x89PNG\r\n\x1a\n<3 bytes < and > but no tag")
