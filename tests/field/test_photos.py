"""Photos: sniffed by content, bounded in bytes and pixels before decoding, re-encoded clean."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from meterops.field.photos import PhotoLimits, PhotoRefusedError, reencode, sniff

SMALL = PhotoLimits(max_bytes=200_000, max_pixels=1_000_000, max_long_side=256)


def encoded(fmt: str, size: tuple[int, int], mode: str = "RGB", **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, "blue" if mode != "L" else 128).save(buffer, fmt, **save)
    return buffer.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int) -> bytes:
    """A real, valid greyscale PNG of zeros: tiny on disk, huge once decoded."""
    compressor = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0 + zero pixels
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def test_html_named_jpg_is_refused_as_html() -> None:
    page = b"<!DOCTYPE html><html><body><script>fetch('/api')</script></body></html>"
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(page)
    assert refused.value.status == 415
    assert refused.value.code == "photo.unsupported_type"
    assert refused.value.details["detected"] == "html"


def test_svg_named_jpg_is_refused_as_svg() -> None:
    svg = (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b'<rect width="10" height="10"/></svg>'
    )
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(svg)
    assert (refused.value.status, refused.value.details["detected"]) == (415, "svg")


def test_gif_is_refused_even_though_it_is_an_image() -> None:
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(encoded("GIF", (10, 10), mode="P"))
    assert (refused.value.status, refused.value.details["detected"]) == (415, "gif")


def test_a_png_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_bomb(20_000, 20_000)  # 400 megapixels in a few hundred kilobytes
    assert len(bomb) < 1_000_000
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(bomb)
    assert refused.value.status == 413
    assert refused.value.code == "photo.decompression_bomb"
    assert "400000000 pixels" in refused.value.message


def test_too_many_pixels_is_refused_even_when_not_a_bomb() -> None:
    data = encoded("JPEG", (1200, 1000), quality=95)
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(data, PhotoLimits(max_pixels=1_000_000, bomb_ratio=10_000))
    assert (refused.value.status, refused.value.code) == (413, "photo.too_many_pixels")


def test_too_many_bytes_is_refused_before_anything_else() -> None:
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(b"<html>" + bytes(SMALL.max_bytes), SMALL)
    assert (refused.value.status, refused.value.code) == (413, "photo.too_many_bytes")


def test_a_jpeg_header_on_garbage_is_unreadable() -> None:
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10)
    assert (refused.value.status, refused.value.code) == (415, "photo.unreadable")


def test_metadata_is_stripped_and_orientation_applied() -> None:
    image = Image.new("RGB", (400, 100), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (41.0, 36.0, 0.0)}  # GPS IFD
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), icc_profile=b"\x00" * 128)
    source = buffer.getvalue()
    assert Image.open(io.BytesIO(source)).getexif()
    clean = reencode(source)
    out = Image.open(io.BytesIO(clean.jpeg))
    assert out.format == "JPEG"
    assert (out.width, out.height) == (100, 400)  # upright
    assert not out.getexif()
    assert "icc_profile" not in out.info
    assert b"PhoneMaker" not in clean.jpeg


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=0, max_size=4096))
def test_bytes_without_an_image_signature_are_always_refused_as_unsupported(data: bytes) -> None:
    if sniff(data) is not None:
        return
    with pytest.raises(PhotoRefusedError) as refused:
        reencode(data, SMALL)
    assert refused.value.status == 415


@settings(max_examples=40, deadline=None)
@given(
    fmt=st.sampled_from(["JPEG", "PNG", "WEBP"]),
    width=st.integers(1, 700),
    height=st.integers(1, 700),
)
def test_accepted_images_come_out_as_jpeg_within_the_long_side(
    fmt: str, width: int, height: int
) -> None:
    data = encoded(fmt, (width, height))
    assert sniff(data) == fmt.lower()
    clean = reencode(data, SMALL)
    assert clean.jpeg.startswith(b"\xff\xd8\xff")
    assert max(clean.width, clean.height) <= SMALL.max_long_side
    assert (clean.source_width, clean.source_height) == (width, height)
    if max(width, height) <= SMALL.max_long_side:
        assert (clean.width, clean.height) == (width, height)
    else:  # the aspect ratio is kept, to a pixel of rounding
        scale = SMALL.max_long_side / max(width, height)
        assert abs(clean.width - width * scale) <= 1
        assert abs(clean.height - height * scale) <= 1


@settings(max_examples=40, deadline=None)
@given(size=st.integers(0, 3000), limit=st.integers(1, 3000))
def test_the_byte_limit_holds_for_any_size(size: int, limit: int) -> None:
    data = encoded("PNG", (2, 2)) + bytes(size)
    limits = PhotoLimits(max_bytes=limit)
    if len(data) > limit:
        with pytest.raises(PhotoRefusedError) as refused:
            reencode(data, limits)
        assert refused.value.code == "photo.too_many_bytes"
    else:
        assert reencode(data, limits).width == 2


@settings(max_examples=40, deadline=None)
@given(width=st.integers(1, 3000), height=st.integers(1, 3000))
def test_the_pixel_limit_is_checked_from_the_header(width: int, height: int) -> None:
    data = png_bomb(width, height)
    limits = PhotoLimits(max_pixels=250_000, max_long_side=64)
    if width * height > limits.max_pixels:
        with pytest.raises(PhotoRefusedError) as refused:
            reencode(data, limits)
        assert refused.value.status == 413
    else:
        assert reencode(data, limits).source_width == width


def corpus() -> list[tuple[str, bytes]]:
    """Over a hundred hostile or broken uploads, each named like a photo."""
    jpeg = encoded("JPEG", (120, 90))
    png_ = encoded("PNG", (120, 90))
    webp = encoded("WEBP", (120, 90))
    files: list[tuple[str, bytes]] = []
    for name, good in (("jpeg", jpeg), ("png", png_), ("webp", webp)):
        step = max(1, len(good) // 30)
        files.extend(
            (f"truncated {name} at {cut}", good[:cut]) for cut in range(4, len(good) - 1, step)
        )
    markup = [
        b"<html><body onload=alert(1)>",
        b"\xef\xbb\xbf<!DOCTYPE HTML><HTML>",
        b"   \n\t<script>alert(1)</script>",
        b"<HEAD><meta http-equiv=refresh content=0;url=//x>",
        b"<svg/onload=alert(1)>",
        b'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE svg><svg></svg>',
        b"<?xml version='1.0'?><x:xmp xmlns:x='adobe:ns:meta/'/>",
        b"GIF89a\x01\x00\x01\x00<script>alert(1)</script>",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
        b"PK\x03\x04 zip bomb pretending",
        b"BM" + bytes(60),
        b"II*\x00" + bytes(20),
        b"",
        b"\x00" * 64,
        b"\xff\xd8",  # too short to be JPEG
        b"RIFF\x00\x00\x00\x00WAVEfmt ",  # RIFF but not WebP
        b"\x89PNG\r\n\x1a\n",  # a PNG signature and nothing else
    ]
    files += [(f"markup or other {i}", data) for i, data in enumerate(markup)]
    return files


def test_a_hostile_corpus_is_refused_each_with_its_reason() -> None:
    files = corpus()
    assert len(files) >= 100
    whole_png = encoded("PNG", (120, 90))
    pixels_end = whole_png.index(b"IEND") - 8  # before the last IDAT's CRC and the IEND chunk
    accepted: list[int] = []
    reasons: dict[str, tuple[int, str, str]] = {}
    for label, data in files:
        try:
            clean = reencode(data, SMALL)
        except PhotoRefusedError as refused:
            reasons[label] = (refused.status, refused.code, refused.message)
        else:
            assert clean.jpeg.startswith(b"\xff\xd8\xff")
            accepted.append(len(data) if label.startswith("truncated png") else -1)
    # Only PNGs cut after their last compressed pixel (missing a checksum or the end marker)
    # decode; they are stored re-encoded.
    assert all(cut >= pixels_end for cut in accepted)
    assert all(status == 415 for status, _, _ in reasons.values())
    assert {code for _, code, _ in reasons.values()} == {
        "photo.unsupported_type",
        "photo.unreadable",
    }
    assert all(message for _, _, message in reasons.values())


def test_a_polyglot_is_stored_without_its_payload() -> None:
    polyglot = encoded("JPEG", (40, 30)) + b"<script>alert(document.cookie)</script>"
    clean = reencode(polyglot)
    assert b"<script" not in clean.jpeg
