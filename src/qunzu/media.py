"""Images and voice notes read with Pillow and mutagen (``services.ports.MediaTools``).

Blocking and CPU-bound: the services run these on a worker thread.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from qunzu.domain.attachments import check_pixels
from qunzu.domain.errors import InvalidInput
from qunzu.services.ports import ImageProcessed

THUMB_EDGE = 320
_FORMAT_OF = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF", "image/webp": "WEBP"}


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

    def _reencode(self, im: Image.Image, path: Path, mime: str) -> ImageProcessed:
        fmt = _FORMAT_OF[mime]
        clean = path.with_name(path.name + ".clean")
        thumb = path.with_name(path.name + ".thumb")
        upright = ImageOps.exif_transpose(im) if fmt != "GIF" else im
        if fmt == "GIF" and getattr(im, "n_frames", 1) > 1:
            # Animated: keep the frames; saving writes no EXIF or comments we do not pass.
            im.save(clean, format="GIF", save_all=True, loop=im.info.get("loop", 0))
        else:
            still = upright
            if fmt == "JPEG" and still.mode not in ("RGB", "L"):
                still = still.convert("RGB")
            still.save(clean, format=fmt, **({"quality": 90} if fmt in ("JPEG", "WEBP") else {}))
        small = upright.convert("RGB")
        small.thumbnail((THUMB_EDGE, THUMB_EDGE))
        small.save(thumb, format="JPEG", quality=80)
        return ImageProcessed(clean, thumb, upright.width, upright.height)

    def voice_duration_ms(self, path: Path, mime: str) -> int:
        import mutagen

        try:
            audio = mutagen.File(path)
        except Exception as exc:  # mutagen raises its own error per container
            raise InvalidInput("audio_unreadable", "The voice note cannot be read.") from exc
        if audio is None or not getattr(audio.info, "length", 0):
            raise InvalidInput("audio_unreadable", "The voice note has no duration.")
        return round(audio.info.length * 1000)
