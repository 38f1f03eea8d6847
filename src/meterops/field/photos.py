"""Technicians' photos: sniff, bound, decode safely and re-encode as clean JPEG.

An upload is trusted for nothing: its name and declared type are ignored. In order:

1. **Bytes**: more than :attr:`PhotoLimits.max_bytes` is refused (413) before anything else.
2. **Type**: sniffed from the first bytes; only JPEG, PNG and WebP are accepted. HTML, SVG
   (scripts in an image), GIF, PDF and anything else are refused (415) with what they look like.
3. **Pixels**: the dimensions are read from the header *before* any pixel is decoded; more
   than :attr:`PhotoLimits.max_pixels` is refused (413). A small file announcing a huge image
   (a decompression bomb) is refused with its own reason. Pillow's own bomb guard
   (``Image.MAX_IMAGE_PIXELS``, here the same limit; its warning made an error) stays on as a
   second fence.
4. **Re-encode**: the image is decoded, turned upright (EXIF orientation applied), flattened
   to RGB, scaled down so its long side is at most :attr:`PhotoLimits.max_long_side`, copied to
   a new image (dropping EXIF, GPS, ICC profiles, XMP and comments) and saved as JPEG.

Pure module: Pillow and the standard library only.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import ClassVar, Final

from PIL import Image, ImageOps, UnidentifiedImageError

from meterops.errors import InvalidInputError

__all__ = [
    "ACCEPTED_TYPES",
    "DEFAULT_LIMITS",
    "CleanPhoto",
    "PhotoLimits",
    "PhotoRefusedError",
    "describe",
    "reencode",
    "sniff",
]

ACCEPTED_TYPES: Final = ("jpeg", "png", "webp")
"""Image types accepted, by sniffed content."""

_PIL_FORMATS: Final = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


@dataclass(frozen=True, slots=True)
class PhotoLimits:
    """Bounds of an upload.

    Attributes:
        max_bytes: Largest upload. [bytes]
        max_pixels: Largest image (width × height) decoded. [pixels]
        max_long_side: Long side of the stored JPEG. [pixels]
        jpeg_quality: JPEG quality of the stored photo (1–95).
        bomb_ratio: A file whose decoded size (pixels × bands) exceeds its byte size by more than
            this factor and is over the pixel limit is reported as a decompression bomb.
    """

    max_bytes: int = 12 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_long_side: int = 2048
    jpeg_quality: int = 85
    bomb_ratio: float = 100.0


DEFAULT_LIMITS: Final = PhotoLimits()

# Pillow's own guard: warn above the limit, raise above twice it. Warnings become errors below.
Image.MAX_IMAGE_PIXELS = DEFAULT_LIMITS.max_pixels


class PhotoRefusedError(InvalidInputError):
    """An upload that is not stored, with the reason and the HTTP status it deserves.

    Attributes:
        status: 413 (too large, over the quota), 415 (not an accepted image type) or 507 (the
            photo store could not take it).
    """

    default_code = "photo.refused"
    status: int

    TOO_LARGE: ClassVar[int] = 413
    UNSUPPORTED: ClassVar[int] = 415
    STORAGE_FAILED: ClassVar[int] = 507

    def __init__(self, message: str, *, code: str, status: int, details: dict[str, object]) -> None:
        super().__init__(message, code=code, details=dict(details))
        self.status = status


def sniff(data: bytes) -> str | None:
    r"""The accepted image type of the bytes, from their signature (None: not one).

    Examples:
        >>> sniff(b"\xff\xd8\xff\xe0" + bytes(10))
        'jpeg'
        >>> sniff(b"\x89PNG\r\n\x1a\n" + bytes(10))
        'png'
        >>> sniff(b"RIFF\x00\x00\x00\x00WEBPVP8 ")
        'webp'
        >>> sniff(b"<html><script>alert(1)</script>") is None
        True
    """
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def describe(data: bytes) -> str:
    """What bytes that are not an accepted image look like (for the refusal's reason).

    Examples:
        >>> describe(b"  <!DOCTYPE html><html>")
        'html'
        >>> describe(b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">')
        'svg'
        >>> describe(b"GIF89a....")
        'gif'
        >>> describe(bytes(8))
        'unknown'
    """
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if b"<svg" in head:
        return "svg"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")) or (
        b"<html" in head or b"<script" in head
    ):
        return "html"
    if head.startswith(b"<"):
        return "xml or other markup"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"%PDF"):
        return "pdf"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "tiff"
    if data.startswith(b"BM"):
        return "bmp"
    if data.startswith(b"PK\x03\x04"):
        return "zip"
    return "unknown"


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    """A photo ready to store.

    Attributes:
        jpeg: The re-encoded JPEG bytes (no metadata).
        width: Stored width. [pixels]
        height: Stored height. [pixels]
        source_type: The sniffed type of the upload.
        source_width: Width of the upload (before orientation and scaling). [pixels]
        source_height: Height of the upload. [pixels]
    """

    jpeg: bytes
    width: int
    height: int
    source_type: str
    source_width: int
    source_height: int


def _too_large(message: str, code: str, **details: object) -> PhotoRefusedError:
    return PhotoRefusedError(
        message, code=code, status=PhotoRefusedError.TOO_LARGE, details=details
    )


def _unsupported(message: str, code: str, **details: object) -> PhotoRefusedError:
    return PhotoRefusedError(
        message, code=code, status=PhotoRefusedError.UNSUPPORTED, details=details
    )


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in {"RGBA", "LA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def reencode(data: bytes, limits: PhotoLimits = DEFAULT_LIMITS) -> CleanPhoto:
    r"""Check an upload and re-encode it as a clean JPEG.

    Args:
        data: The uploaded bytes (any name, any declared type: both ignored).
        limits: The bounds.

    Returns:
        The clean photo.

    Raises:
        PhotoRefusedError: Too many bytes or pixels (413), not JPEG/PNG/WebP or unreadable
            (415); the code says which (``photo.too_many_bytes``, ``photo.too_many_pixels``,
            ``photo.decompression_bomb``, ``photo.unsupported_type``, ``photo.unreadable``).

    Examples:
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> Image.new("RGB", (4000, 1000), "red").save(buffer, "PNG")
        >>> clean = reencode(buffer.getvalue())
        >>> (clean.width, clean.height, clean.source_type, clean.jpeg[:3])
        (2048, 512, 'png', b'\xff\xd8\xff')
        >>> reencode(b"<svg onload=alert(1)>")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        meterops.field.photos.PhotoRefusedError: the upload is svg, not a JPEG, PNG or WebP ...
    """
    if len(data) > limits.max_bytes:
        raise _too_large(
            f"the upload has {len(data):,} bytes; at most {limits.max_bytes:,} are accepted",
            "photo.too_many_bytes",
            bytes=len(data),
            max_bytes=limits.max_bytes,
        )
    kind = sniff(data)
    if kind is None:
        looks_like = describe(data)
        raise _unsupported(
            f"the upload is {looks_like}, not a JPEG, PNG or WebP image; only photos are accepted",
            "photo.unsupported_type",
            detected=looks_like,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[kind]])
            width, height = image.size
            pixels = width * height
            if pixels > limits.max_pixels:
                bands = len(image.getbands())
                bomb = pixels * bands > limits.bomb_ratio * len(data)
                raise _too_large(
                    f"the image is {width}×{height} = {pixels:,} pixels"
                    + (f" in only {len(data):,} bytes (a decompression bomb)" if bomb else "")
                    + f"; at most {limits.max_pixels:,} pixels are accepted",
                    "photo.decompression_bomb" if bomb else "photo.too_many_pixels",
                    width=width,
                    height=height,
                    max_pixels=limits.max_pixels,
                )
            image.load()
            upright = ImageOps.exif_transpose(image)
            rgb = _flatten(upright)
        except PhotoRefusedError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
            raise _too_large(
                f"the image is a decompression bomb ({error}); refused",
                "photo.decompression_bomb",
                max_pixels=limits.max_pixels,
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
            raise _unsupported(
                f"the upload starts like a {kind.upper()} image but cannot be decoded ({error})",
                "photo.unreadable",
                detected=kind,
            ) from None
    rgb.thumbnail((limits.max_long_side, limits.max_long_side), Image.Resampling.LANCZOS)
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=limits.jpeg_quality, optimize=True)
    return CleanPhoto(
        jpeg=out.getvalue(),
        width=clean.width,
        height=clean.height,
        source_type=kind,
        source_width=width,
        source_height=height,
    )
