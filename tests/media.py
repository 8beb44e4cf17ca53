"""Test media made on the spot: images with EXIF and GPS, voice notes, the bad corpus."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg_with_gps(width: int = 64, height: int = 48, quality: int = 90) -> bytes:
    """A JPEG carrying EXIF with a camera make and a GPS position (to be stripped)."""
    image = Image.new("RGB", (width, height), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SecretCamera"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (39.0, 54.0, 27.0)
    gps[3], gps[4] = "E", (116.0, 23.0, 50.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif, quality=quality)
    return out.getvalue()


def image_bytes(fmt: str, width: int = 40, height: int = 30) -> bytes:
    out = io.BytesIO()
    mode = "RGB" if fmt != "GIF" else "P"
    Image.new(mode, (width, height), 7).save(out, format=fmt)
    return out.getvalue()


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A small PNG whose header claims width x height pixels (a decompression bomb): the
    zlib stream holds a few rows of zeros, enough for the header to be read."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def polyglot() -> bytes:
    """A valid GIF with an HTML document after it (a browser sniffing it runs the script)."""
    return image_bytes("GIF") + b"<html><script>alert(document.cookie)</script></html>"


def ogg_opus(seconds: float = 1.5) -> bytes:
    """A minimal Ogg/Opus stream: the OpusHead and OpusTags pages, then one audio page
    whose granule position says ``seconds`` at 48 kHz (mutagen reads the duration)."""

    def page(seqno: int, granule: int, flags: int, payload: bytes) -> bytes:
        segments = []
        rest = len(payload)
        while rest >= 255:
            segments.append(255)
            rest -= 255
        segments.append(rest)
        header = (
            b"OggS"
            + bytes([0, flags])
            + struct.pack("<qIII", granule, 0x1234, seqno, 0)
            + bytes([len(segments)])
            + bytes(segments)
        )
        crc = _ogg_crc(header + payload)
        return header[:22] + struct.pack("<I", crc) + header[26:] + payload

    head = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 5) + b"qunzu" + struct.pack("<I", 0)
    granule = 312 + int(seconds * 48000)
    return (
        page(0, 0, 0x02, head)
        + page(1, 0, 0x00, tags)
        + page(2, granule, 0x04, b"\xfc\xff\xfe")  # one silent Opus frame
    )


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc
