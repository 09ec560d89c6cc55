"""backend.storage: upload validation, re-encoding, digests and the photo folder.

Every image is generated here with Pillow (noise, so JPEG has real work to do);
no binary fixture is committed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import warnings
import zlib
from datetime import datetime
from io import BytesIO

import pytest
from PIL import Image, ImageFile, JpegImagePlugin, features

from backend.errors import CarnetError, NotFound
from backend.storage import (
    Ingested,
    LocalPhotoStore,
    PhotoStore,
    content_digest,
    ingest_image,
    parse_content_digest,
    sha256_hex,
)
from tests.images import (
    RED,
    encode,
    exif_with,
    is_red,
    jpeg,
    noisy,
    phone_jpeg_bytes,
    png_declaring,
    reopen,
)


def refused(data: bytes, **kw: object) -> CarnetError:
    with pytest.raises(CarnetError) as info:
        ingest_image(data, **kw)
    return info.value


@pytest.fixture(scope="module")
def phone_jpeg() -> bytes:
    return phone_jpeg_bytes()


@pytest.fixture(scope="module")
def jpeg_12mp() -> bytes:
    return jpeg((4000, 3000))


# --- ingest: what is stored -----------------------------------------------------------


def test_the_phone_photo_fixture_really_carries_gps_xmp_and_icc(phone_jpeg):
    source = Image.open(BytesIO(phone_jpeg))
    assert source.getexif().get_ifd(0x8825)[2] == (48.0, 51.0, 24.0)
    assert {"exif", "xmp", "icc_profile"} <= source.info.keys()


def test_a_sideways_phone_photo_is_stored_upright_with_the_marker_top_right(phone_jpeg):
    result = ingest_image(phone_jpeg)
    stored = reopen(result.content)
    assert (result.width, result.height) == stored.size == (300, 400)
    assert is_red(stored.getpixel((300 - 30, 30)))
    assert not is_red(stored.getpixel((30, 30)))


def test_stored_image_and_thumbnail_carry_no_exif_gps_xmp_or_icc(phone_jpeg):
    result = ingest_image(phone_jpeg)
    for data in (result.content, result.thumb):
        stored = reopen(data)
        assert stored.format == "JPEG" and stored.mode == "RGB"
        assert len(stored.getexif()) == 0
        assert not {"exif", "xmp", "icc_profile"} & stored.info.keys()
        for marker in (b"Exif\x00\x00", b"http://ns.adobe.com/xap/1.0/", b"ICC_PROFILE"):
            assert marker not in data


def test_the_capture_time_is_read_from_date_time_original(phone_jpeg):
    assert ingest_image(phone_jpeg).captured_at == datetime(2025, 3, 14, 9, 26, 53)


@pytest.mark.parametrize(
    ("exif", "expected"),
    [
        (exif_with(datetime="2024:05:06 07:08:09"), datetime(2024, 5, 6, 7, 8, 9)),
        (exif_with(original="not a date", datetime="also wrong"), None),
        (exif_with(original="0000:00:00 00:00:00"), None),
        (exif_with(), None),
    ],
    ids=["falls-back-to-datetime", "garbage", "zeroes", "no-dates"],
)
def test_the_capture_time_falls_back_or_is_none(exif, expected):
    assert ingest_image(jpeg((64, 48), exif=exif)).captured_at == expected


@pytest.mark.parametrize(
    ("orientation", "corner"),
    [(1, "tl"), (2, "tr"), (3, "br"), (4, "bl"), (5, "tl"), (6, "tr"), (7, "br"), (8, "bl")],
)
def test_every_exif_orientation_puts_the_marker_where_the_viewer_saw_it(orientation, corner):
    im = noisy((160, 120))
    im.paste(RED, (0, 0, 30, 30))
    result = ingest_image(encode(im, "JPEG", quality=95, exif=exif_with(orientation)))
    stored = reopen(result.content)
    w, h = stored.size
    assert (w, h) == ((120, 160) if orientation >= 5 else (160, 120))
    x = 12 if corner[1] == "l" else w - 12
    y = 12 if corner[0] == "t" else h - 12
    assert is_red(stored.getpixel((x, y)))


def test_a_12_megapixel_photo_is_downscaled_and_gets_a_thumbnail(jpeg_12mp):
    result = ingest_image(jpeg_12mp)
    assert (result.width, result.height) == reopen(result.content).size == (2560, 1920)
    assert (result.thumb_width, result.thumb_height) == reopen(result.thumb).size == (320, 240)
    assert result.source_format == "JPEG" and result.content_type == "image/jpeg"


def test_jpeg_is_decoded_in_draft_mode_with_an_aspect_correct_box(jpeg_12mp, monkeypatch):
    boxes = []
    draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        boxes.append((size, draft(self, mode, size)))
        return boxes[-1][1]

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    result = ingest_image(jpeg_12mp, max_side=1000)
    # Scale 1/4 applied: the decoder produced 1000×750 directly.
    assert boxes == [((1000, 750), ("RGB", (0, 0, 1000.0, 750.0)))]
    assert (result.width, result.height) == (1000, 750)


def test_a_portrait_photo_keeps_its_aspect():
    result = ingest_image(jpeg((1500, 3000)), max_side=1000, thumb_side=100)
    assert (result.width, result.height, result.thumb_width, result.thumb_height) == (
        500,
        1000,
        50,
        100,
    )


def test_a_photo_already_small_keeps_its_size():
    result = ingest_image(jpeg((800, 600)))
    assert (result.width, result.height) == (800, 600)
    assert (result.thumb_width, result.thumb_height) == (320, 240)


def test_the_result_describes_its_bytes():
    result = ingest_image(jpeg())
    assert isinstance(result, Ingested)
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()
    assert result.size == len(result.content)
    assert result.thumb_sha256 == hashlib.sha256(result.thumb).hexdigest()
    assert result.thumb_size == len(result.thumb)
    assert "content=" not in repr(result)  # megabytes never end up in a log line


def test_a_png_with_alpha_becomes_a_jpeg_on_white():
    im = Image.new("RGBA", (200, 100), (0, 0, 255, 0))
    im.paste((255, 0, 0, 255), (100, 0, 200, 100))
    result = ingest_image(encode(im, "PNG"))
    stored = reopen(result.content)
    assert result.source_format == "PNG" and stored.format == "JPEG" and stored.mode == "RGB"
    assert min(stored.getpixel((50, 50))) > 245
    assert is_red(stored.getpixel((150, 50)))


def test_a_palette_png_with_a_transparent_index_becomes_white_there():
    im = Image.new("P", (100, 50), 0)
    im.putpalette([0, 0, 255, 255, 0, 0] + [0] * 762)
    im.paste(1, (50, 0, 100, 50))
    stored = reopen(ingest_image(encode(im, "PNG", transparency=0)).content)
    assert min(stored.getpixel((20, 25))) > 245
    assert is_red(stored.getpixel((80, 25)))


def test_a_16_bit_grey_png_is_scaled_to_8_bits_not_clipped():
    im = Image.new("I;16", (64, 64), 128 * 256)
    stored = reopen(ingest_image(encode(im, "PNG")).content)
    assert all(120 <= v <= 136 for v in stored.getpixel((32, 32)))


@pytest.mark.skipif(not features.check("webp"), reason="Pillow built without WebP")
@pytest.mark.parametrize("params", [{"quality": 80}, {"lossless": True}], ids=["lossy", "lossless"])
def test_webp_is_accepted(params):
    im = noisy((300, 200)).convert("RGBA")
    result = ingest_image(encode(im, "WEBP", **params))
    assert result.source_format == "WEBP"
    assert reopen(result.content).size == (300, 200)


def test_a_multi_picture_jpeg_is_treated_as_jpeg():
    buf = BytesIO()
    noisy((320, 240)).save(buf, "MPO", save_all=True, append_images=[noisy((160, 120))])
    assert Image.open(BytesIO(buf.getvalue())).format == "MPO"
    result = ingest_image(buf.getvalue())
    assert result.source_format == "JPEG" and (result.width, result.height) == (320, 240)


# --- ingest: what is refused -----------------------------------------------------------


def test_a_truncated_jpeg_is_refused_as_corrupt_with_a_french_message():
    data = jpeg()
    error = refused(data[: len(data) // 2])
    assert (error.status, error.code) == (422, "corrupt_image")
    assert "tronqué" in error.message


def test_a_png_with_a_broken_data_stream_is_refused_as_corrupt():
    data = bytearray(encode(noisy((200, 100)), "PNG"))
    start = data.index(b"IDAT") + 4
    data[start + 50 : start + 250] = bytes(200)
    assert refused(bytes(data)).code == "corrupt_image"


def test_a_corrupt_upload_does_not_stop_the_next_one():
    refused(jpeg()[:500])
    assert ingest_image(jpeg()).width == 640


def test_truncated_images_are_never_grey_filled_even_if_pillow_is_told_to(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        ingest_image(jpeg())


GIF = encode(Image.new("P", (10, 10)), "GIF")
NOT_ACCEPTED = {
    "html": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
    "svg": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="9" '
    b'height="9"><script>alert(1)</script></svg>',
    "pdf": b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n",
    "gif": GIF,
    "bmp": encode(Image.new("RGB", (10, 10)), "BMP"),
    "tiff": encode(Image.new("RGB", (10, 10)), "TIFF"),
    "empty": b"",
    "html-then-jpeg": b"<html><script>alert(1)</script></html>" + jpeg((32, 32)),
    "jpeg-magic-then-html": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"<html><script></script>" * 9,
    "gif-magic-then-html": GIF[:6] + b"<script>alert(1)</script>",
}


@pytest.mark.parametrize("data", NOT_ACCEPTED.values(), ids=NOT_ACCEPTED.keys())
def test_anything_but_jpeg_png_webp_is_refused_by_content(data):
    error = refused(data)
    assert (error.status, error.code) == (415, "unsupported_image_type")


def test_a_jpeg_with_html_appended_is_stored_as_a_clean_jpeg_without_the_html():
    result = ingest_image(jpeg((64, 48)) + b"<html><script>alert(1)</script></html>")
    assert result.content.startswith(b"\xff\xd8") and result.content.endswith(b"\xff\xd9")
    assert b"<script" not in result.content and b"<script" not in result.thumb
    assert reopen(result.content).size == (64, 48)


def test_a_png_declaring_64_megapixels_is_refused_without_decoding(monkeypatch):
    # 8000×8000 zero pixels compress to a few KB but would take 64 MB+ decoded.
    bomb = png_declaring(8000, 8000, zlib.compress(bytes(8000 * 1001), 9))
    assert len(bomb) < 20_000

    def no_decoding(self):
        raise AssertionError("the bomb was decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    error = refused(bomb)
    assert (error.status, error.code) == (422, "image_too_large")
    assert error.details == {"width": 8000, "height": 8000, "max_pixels": 40_000_000}


def test_a_png_declaring_2_5_gigapixels_is_refused_by_pillows_bomb_error():
    assert refused(png_declaring(50_000, 50_000, b"x")).code == "image_too_large"


def test_pillows_bomb_warning_is_an_error_even_where_warnings_are_ignored():
    before = list(warnings.filters)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # 100 MP: over Pillow's warning threshold, under our (raised) limit.
        error = refused(png_declaring(10_000, 10_000, b"x"), max_pixels=10**9)
    assert error.code == "image_too_large"
    assert warnings.filters == before


def test_the_pixel_limit_is_inclusive():
    data = jpeg((100, 100))
    assert ingest_image(data, max_pixels=10_000).width == 100
    assert refused(data, max_pixels=9_999).code == "image_too_large"


# --- digests ---------------------------------------------------------------------------

DIGEST = hashlib.sha256(b"photo").digest()
B64 = base64.b64encode(DIGEST).decode()


def test_content_digest_round_trips():
    assert content_digest(b"photo") == f"sha-256=:{B64}:"
    assert parse_content_digest(content_digest(b"photo")) == DIGEST
    assert sha256_hex(b"photo") == DIGEST.hex()


@pytest.mark.parametrize(
    "header",
    [
        f"sha-256=:{B64}:",
        f"sha-512=:{base64.b64encode(bytes(64)).decode()}:, sha-256=:{B64}:",
        f"sha-256=:{B64}:,unixsum=:AAAA:",
        f"sha-256=:{B64}:;note=1",
        f"sha-256=:{B64.rstrip('=')}:",
        f"sha-256=:{base64.b64encode(bytes(32)).decode()}:, sha-256=:{B64}:",
    ],
    ids=["alone", "after-sha-512", "before-other", "with-parameter", "unpadded", "last-wins"],
)
def test_a_good_digest_header_gives_the_raw_sha256(header):
    assert parse_content_digest(header) == DIGEST


@pytest.mark.parametrize("header", [None, "", "  ", "sha-512=:AAAA:"])
def test_a_missing_sha256_digest_gives_none(header):
    assert parse_content_digest(header) is None


@pytest.mark.parametrize(
    "header",
    [
        B64,
        f"sha-256={B64}",
        f"sha-256=:{B64}",
        "sha-256=:!!!!:",
        "sha-256=:AAAA:",
        f"SHA-256=:{B64}:",
        f"sha-256=:{B64}:,",
        f"sha-256 = :{B64}:",
        "sha-256",
    ],
    ids=[
        "bare",
        "no-colons",
        "unclosed",
        "not-base64",
        "wrong-length",
        "upper-case",
        "trailing-comma",
        "spaces",
        "no-value",
    ],
)
def test_a_malformed_digest_header_is_refused(header):
    with pytest.raises(CarnetError) as info:
        parse_content_digest(header)
    assert (info.value.status, info.value.code) == (422, "bad_digest_header")


# --- LocalPhotoStore ---------------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> LocalPhotoStore:
    return LocalPhotoStore(tmp_path / "photos")


def files_under(store: LocalPhotoStore) -> list[str]:
    return sorted(str(p.relative_to(store.root)) for p in store.root.rglob("*") if p.is_file())


def test_a_put_photo_is_stored_under_its_sharded_hash_and_reads_back(store):
    sha = store.put(b"evidence")
    assert isinstance(store, PhotoStore)
    assert sha == hashlib.sha256(b"evidence").hexdigest()
    assert files_under(store) == [f"{sha[:2]}/{sha[2:4]}/{sha}"]
    assert store.path(sha) == store.root / sha[:2] / sha[2:4] / sha
    assert store.open(sha) == b"evidence"
    assert store.exists(sha) and store.verify(sha)
    assert list(store.iter_hashes()) == [sha]


def test_putting_the_same_bytes_again_does_not_rewrite_the_file(store):
    sha = store.put(b"evidence")
    inode = store.path(sha).stat().st_ino
    assert store.put(b"evidence") == sha
    assert store.path(sha).stat().st_ino == inode
    assert files_under(store) == [f"{sha[:2]}/{sha[2:4]}/{sha}"]


def test_a_damaged_file_of_the_wrong_size_is_repaired_by_the_next_put(store):
    sha = store.put(b"evidence")
    store.path(sha).write_bytes(b"evid")
    assert not store.verify(sha)
    store.put(b"evidence")
    assert store.verify(sha) and store.open(sha) == b"evidence"


def test_verify_detects_a_flipped_byte(store):
    sha = store.put(b"evidence")
    path = store.path(sha)
    data = bytearray(path.read_bytes())
    data[3] ^= 0x01
    path.write_bytes(bytes(data))
    assert store.exists(sha) and not store.verify(sha)


def test_a_failed_write_leaves_no_file_at_all(store, monkeypatch):
    def disk_error(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", disk_error)
    with pytest.raises(OSError, match="disk full"):
        store.put(b"evidence")
    monkeypatch.undo()
    assert files_under(store) == []
    assert not store.exists(sha256_hex(b"evidence"))


def test_no_temporary_file_is_left_after_many_puts(store):
    hashes = {store.put(f"photo {i}".encode()) for i in range(20)}
    assert set(store.iter_hashes()) == hashes
    assert not [name for name in files_under(store) if LocalPhotoStore.TEMP_PREFIX in name]


def test_listing_skips_temporary_and_stray_files(store):
    sha = store.put(b"evidence")
    folder = store.path(sha).parent
    (folder / f"{LocalPhotoStore.TEMP_PREFIX}abc").write_bytes(b"half")
    (folder / "notes.txt").write_bytes(b"x")
    (folder / ("0" * 64)).write_bytes(b"misplaced")  # not under its own shard
    assert list(store.iter_hashes()) == [sha]


def test_delete_removes_the_photo_and_tolerates_absence(store):
    sha = store.put(b"evidence")
    store.delete(sha)
    store.delete(sha)
    assert not store.exists(sha) and not store.verify(sha)
    assert list(store.iter_hashes()) == []


def test_a_missing_photo_is_not_found(store):
    sha = sha256_hex(b"never stored")
    for call in (store.open, store.path):
        with pytest.raises(NotFound) as info:
            call(sha)
        assert info.value.code == "photo_file_missing"


@pytest.mark.parametrize(
    "sha",
    [
        "../../etc/passwd",
        "A" * 64,
        "a" * 63,
        "a" * 65,
        "a" * 64 + "\n",
        "g" * 64,
        "ab/cd/" + "a" * 58,
        "",
        None,
    ],
    ids=["traversal", "upper", "short", "long", "newline", "not-hex", "slashes", "empty", "none"],
)
def test_a_name_that_is_not_a_sha256_never_reaches_the_file_system(store, sha):
    for call in (store.open, store.path, store.exists, store.verify, store.delete):
        with pytest.raises(CarnetError) as info:
            call(sha)
        assert (info.value.status, info.value.code) == (422, "bad_photo_hash")
