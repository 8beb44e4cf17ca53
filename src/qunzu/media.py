"""Images and voice notes read with Pillow and mutagen (``services.ports.MediaTools``).

Blocking and CPU-bound: the services run these on a worker thread.
"""

from __future__ import annotations

import ctypes
import warnings
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from qunzu.domain.attachments import check_pixels
from qunzu.domain.errors import InvalidInput
from qunzu.services.ports import ImageProcessed

THUMB_EDGE = 320
_ORIENTATION = 0x0112
_FORMAT_OF = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


def _load_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc: nothing to trim


_MALLOC_TRIM = _load_malloc_trim()


def _give_back_memory() -> None:
    """Return freed pixel memory to the system. After a decoded photo (tens of MB) is
    freed, glibc raises its mmap threshold and keeps later frees in its arenas, so a
    server's memory only grew with each upload (bench/uploads.py: +163 MB after 100)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _unreadable(what: str) -> InvalidInput:
    return InvalidInput("image_unreadable", f"The image cannot be read ({what}).")


class PillowMedia:
    def image(self, path: Path, mime: str, max_pixels: int) -> ImageProcessed:
        """Re-encode without EXIF, GPS or any other metadata, and make a thumbnail.

        The header's size is checked against ``max_pixels`` before any pixel is decoded;
        Pillow's own bomb check (``MAX_IMAGE_PIXELS``) stays on as a second guard."""
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                with Image.open(path, formats=[_FORMAT_OF[mime]]) as im:
                    check_pixels(im.width, im.height, max_pixels)
                    im.load()
                    return self._reencode(im, path, mime)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise InvalidInput("image_too_many_pixels", str(exc), limit=max_pixels) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise _unreadable(type(exc).__name__) from exc
        finally:
            _give_back_memory()

    def _reencode(self, im: Image.Image, path: Path, mime: str) -> ImageProcessed:
        """Save the pixels alone (no EXIF, GPS, comments or profiles are passed on), turned
        upright first when EXIF says so. At most one full-size copy of the pixels besides
        the decoded image: the thumbnail is resized straight from it (memory per upload,
        bench/uploads.py)."""
        fmt = _FORMAT_OF[mime]
        clean = path.with_name(path.name + ".clean")
        thumb = path.with_name(path.name + ".thumb")
        upright = im
        if fmt != "GIF" and im.getexif().get(_ORIENTATION, 1) != 1:
            upright = ImageOps.exif_transpose(im)
        if fmt == "GIF" and getattr(im, "n_frames", 1) > 1:
            # Animated: keep the frames; saving writes no EXIF or comments we do not pass.
            im.save(clean, format="GIF", save_all=True, loop=im.info.get("loop", 0))
        else:
            still = upright
            if fmt == "JPEG" and still.mode not in ("RGB", "L"):
                still = still.convert("RGB")
            still.save(clean, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
        width, height = upright.size
        scale = min(1.0, THUMB_EDGE / max(width, height))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        source = upright if upright.mode in ("RGB", "L", "RGBA") else upright.convert("RGBA")
        small = source.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        small.convert("RGB").save(thumb, format="JPEG", quality=80)
        return ImageProcessed(clean, thumb, width, height)

    def voice_duration_ms(self, path: Path, mime: str) -> int:
        import mutagen

        try:
            audio = mutagen.File(path)
        except Exception as exc:  # mutagen raises its own error per container
            raise InvalidInput("audio_unreadable", "The voice note cannot be read.") from exc
        if audio is None or not getattr(audio.info, "length", 0):
            raise InvalidInput("audio_unreadable", "The voice note has no duration.")
        return round(audio.info.length * 1000)
