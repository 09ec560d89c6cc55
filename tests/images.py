"""Test images generated with Pillow (noise, so JPEG has real work to do);
no binary fixture is committed."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

from PIL import Image, ImageCms

RED = (255, 0, 0)
XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
    b'22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
    b'xmp:CreatorTool="phone"/></rdf:RDF></x:xmpmeta>'
)


def noisy(size: tuple[int, int]) -> Image.Image:
    """An RGB photo stand-in: noise over a gradient, far from trivial for JPEG."""
    gradient = Image.linear_gradient("L").resize(size)
    red, blue = Image.effect_noise(size, 40), Image.effect_noise(size, 25)
    return Image.merge("RGB", [red, gradient, blue])


def encode(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def jpeg(size: tuple[int, int] = (640, 480), **params: object) -> bytes:
    return encode(noisy(size), "JPEG", quality=90, **params)


def png_chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    """A 1-bit grey PNG whose header claims `width`×`height`, built by hand."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def reopen(data: bytes) -> Image.Image:
    im = Image.open(BytesIO(data))
    im.load()
    return im


def is_red(pixel: tuple[int, ...]) -> bool:
    r, g, b = pixel[:3]
    return r > 200 and g < 80 and b < 80


def exif_with(orientation: int | None = None, **tags: str) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if "datetime" in tags:
        exif[0x0132] = tags["datetime"]
    if "original" in tags:
        exif.get_ifd(0x8769)[0x9003] = tags["original"]
    return exif


def phone_jpeg_bytes() -> bytes:
    """Portrait phone photo stored sideways: orientation 6, GPS, dates, XMP, ICC."""
    im = noisy((400, 300))
    im.paste(RED, (0, 0, 60, 60))  # marker in the stored top-left corner
    exif = exif_with(6, datetime="2024:01:01 08:00:00", original="2025:03:14 09:26:53")
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)})
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encode(im, "JPEG", quality=95, exif=exif, icc_profile=icc, xmp=XMP)
