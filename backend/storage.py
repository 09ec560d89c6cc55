"""Photo files: the one module that touches Pillow and the photo folder.

`ingest_image` turns untrusted upload bytes into a clean JPEG and a thumbnail
(pure bytes in, bytes out, CPU-bound: call it in a worker thread).
`PhotoStore` keeps files named by their sha256; `LocalPhotoStore` is the default,
an S3-compatible store can implement the same interface.

Stable error codes raised here (a contract with the PWA, never rename one):
- `unsupported_image_type` (415): not JPEG, PNG, WebP (or HEIC when pillow-heif is
  installed), decided by content: HTML, SVG, PDF, GIF, empty bytes, polyglots.
- `image_too_large` (422): the header declares more pixels than allowed; refused
  before decoding. 422 rather than 413: the body was small, the content is refused.
- `corrupt_image` (422): recognised type, but truncated or damaged.
- `bad_digest_header` (422): a Content-Digest header that does not parse.
- `bad_photo_hash` (422): a photo name that is not 64 lowercase hex characters.
- `photo_file_missing` (404): a hash whose file is not in the store.

PDF documents (evidence of kind `document`: a croquis coté, a PV de réception) go through
`ingest_document`, chosen by content (`ingest_upload`): validated with pypdf, stored as
received (content-addressed like photos), with a generated thumbnail. No PDF rasteriser
is installed (WeasyPrint and pypdf cannot draw a page), so the thumbnail is a placeholder
image showing « PDF » and the page count, not the first page. Codes:
- `corrupt_document` (422): starts like a PDF but pypdf cannot read it.
- `document_encrypted` (422): encrypted or password-protected.
- `document_too_many_pages` (422): no page, or more than `max_pages`.
- `document_active_content` (422): JavaScript, launch actions, embedded files, rich media
  or XFA forms.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import functools
import hashlib
import os
import re
import struct
import tempfile
import threading
import warnings
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import NamedTuple

from PIL import Image, ImageFile, UnidentifiedImageError

from backend.errors import NotFound, UnsupportedMediaType, ValidationFailed

CONTENT_TYPE = "image/jpeg"
BASE_FORMATS = ("JPEG", "PNG", "WEBP")
_FORMAT_LABELS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}
RESAMPLE = Image.Resampling.LANCZOS
MAIN_REDUCING_GAP = 3.0  # ≥ 3: as good as a plain LANCZOS resize in most cases (Pillow doc)
THUMB_REDUCING_GAP = 2.0  # a thumbnail tolerates the cheaper box pre-reduction

# What Pillow raises while parsing or decoding broken data (besides MemoryError,
# which must stay a server error).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)

# EXIF orientation → the transposition that displays the image upright
# (same table as ImageOps.exif_transpose).
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_TAG_ORIENTATION, _TAG_DATETIME, _IFD_EXIF, _TAG_DATETIME_ORIGINAL = 0x0112, 0x0132, 0x8769, 0x9003
_EXIF_DATE_FORMATS = ("%Y:%m:%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S")

# Before Python 3.14, warnings.catch_warnings swaps a process-wide filter list: two
# ingests in worker threads could restore each other's filters and leak ours.
_OPEN_LOCK = threading.Lock()


@dataclass(frozen=True, slots=True)
class Ingested:
    """The stored image, its thumbnail and what was read from the upload."""

    content: bytes = field(repr=False)
    content_type: str
    width: int
    height: int
    sha256: str
    size: int
    thumb: bytes = field(repr=False)
    thumb_sha256: str
    thumb_size: int
    thumb_width: int
    thumb_height: int
    captured_at: datetime | None
    source_format: str  # "JPEG" | "PNG" | "WEBP" | "HEIF"


# --- ingest -------------------------------------------------------------------------


def ingest_image(
    data: bytes,
    *,
    max_pixels: int = 40_000_000,
    max_side: int = 2560,
    thumb_side: int = 320,
    quality: int = 85,
) -> Ingested:
    """Validate an upload by content and re-encode it without metadata.

    Decodes once (JPEG at reduced scale when downscaling), applies the EXIF
    orientation, keeps the capture time as a field, and writes a JPEG of at most
    `max_side` px plus a JPEG thumbnail made from it.
    """
    im = _open(data)
    source_format = "JPEG" if im.format == "MPO" else im.format  # MPO: JPEG + extra frames
    _check_pixels(im.size, max_pixels)  # size from the header: nothing decoded yet
    target = _fit(im.size, max_side)
    if source_format == "JPEG":
        # Must be aspect-correct: draft only scales when both sides stay ≥ the box.
        im.draft("RGB", target)
    _decode(im)
    orientation, captured_at = _read_exif(im)
    image = _downscale(_resizable(im), target, MAIN_REDUCING_GAP)
    # Transposing after the downscale moves fewer pixels; the fit is rotation-symmetric.
    if orientation in _TRANSPOSE:
        image = image.transpose(_TRANSPOSE[orientation])
    image = _flatten(image)
    thumb = _downscale(image, _fit(image.size, thumb_side), THUMB_REDUCING_GAP)
    content, thumb_bytes = _encode_jpeg(image, quality), _encode_jpeg(thumb, quality)
    return Ingested(
        content=content,
        content_type=CONTENT_TYPE,
        width=image.width,
        height=image.height,
        sha256=sha256_hex(content),
        size=len(content),
        thumb=thumb_bytes,
        thumb_sha256=sha256_hex(thumb_bytes),
        thumb_size=len(thumb_bytes),
        thumb_width=thumb.width,
        thumb_height=thumb.height,
        captured_at=captured_at,
        source_format=source_format,
    )


# --- PDF documents ----------------------------------------------------------------------

PDF_CONTENT_TYPE = "application/pdf"
MAX_PDF_PAGES = 50
# Names that make a PDF do things (scripts, launching, attached files, Flash, XFA forms).
_ACTIVE_NAMES = frozenset({"/JS", "/JavaScript", "/Launch", "/EmbeddedFile", "/EmbeddedFiles",
                           "/RichMedia", "/XFA", "/GoToE", "/SubmitForm", "/ImportData"})
_MAX_PDF_OBJECTS = 200_000  # bound on the walk of the object graph


def is_pdf(data: bytes) -> bool:
    return data[:5] == b"%PDF-"


def ingest_upload(data: bytes, *, max_pixels: int = 40_000_000,
                  max_pages: int = MAX_PDF_PAGES) -> Ingested:
    """An image (re-encoded) or a PDF document (kept as received), decided by content."""
    if is_pdf(data):
        return ingest_document(data, max_pages=max_pages)
    return ingest_image(data, max_pixels=max_pixels)


def ingest_document(data: bytes, *, max_pages: int = MAX_PDF_PAGES,
                    thumb_side: int = 320) -> Ingested:
    """Validate a PDF by content with pypdf; keep its bytes; draw a placeholder thumbnail."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    if not is_pdf(data):
        raise UnsupportedMediaType("Ce fichier n'est pas un PDF.", code="unsupported_image_type")
    try:
        reader = PdfReader(BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise ValidationFailed("PDF protégé par un mot de passe ou chiffré : envoyez-le "
                                   "sans protection.", code="document_encrypted")
        pages = len(reader.pages)
        if not 1 <= pages <= max_pages:
            raise ValidationFailed(f"Un document a de 1 à {max_pages} pages.",
                                   code="document_too_many_pages",
                                   details={"pages": pages, "limit": max_pages})
        active = _active_content(reader)
    except ValidationFailed:
        raise
    except (PyPdfError, *_DECODE_ERRORS, RecursionError, KeyError, TypeError, AttributeError):
        raise ValidationFailed("PDF illisible ou endommagé.", code="corrupt_document") from None
    if active or any(name.encode() in data for name in _ACTIVE_NAMES):
        raise ValidationFailed("Ce PDF contient du contenu actif (script, fichier joint ou "
                               "action) : enregistrez-le ou imprimez-le en PDF simple.",
                               code="document_active_content",
                               details={"found": sorted(active)})
    thumb = _pdf_placeholder(pages, thumb_side)
    thumb_bytes = _encode_jpeg(thumb, 85)
    return Ingested(
        content=data, content_type=PDF_CONTENT_TYPE, width=thumb.width, height=thumb.height,
        sha256=sha256_hex(data), size=len(data), thumb=thumb_bytes,
        thumb_sha256=sha256_hex(thumb_bytes), thumb_size=len(thumb_bytes),
        thumb_width=thumb.width, thumb_height=thumb.height, captured_at=None,
        source_format="PDF")


def pdf_page_count(data: bytes) -> int:
    from pypdf import PdfReader

    return len(PdfReader(BytesIO(data), strict=False).pages)


def _active_content(reader) -> set[str]:
    """Names of active content found walking every object reachable from the trailer."""
    from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    stack = [reader.trailer]
    walked = 0
    while stack and walked < _MAX_PDF_OBJECTS:
        node = stack.pop()
        walked += 1
        if isinstance(node, IndirectObject):
            key = (node.idnum, node.generation)
            if key in seen:
                continue
            seen.add(key)
            node = node.get_object()
        if isinstance(node, DictionaryObject):
            for name, value in node.items():
                if name in _ACTIVE_NAMES:
                    found.add(str(name))
                if name == "/S" and isinstance(value, NameObject) and value in _ACTIVE_NAMES:
                    found.add(str(value))
                stack.append(value)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    if walked >= _MAX_PDF_OBJECTS:
        found.add("too many objects")
    return found


def _pdf_placeholder(pages: int, side: int) -> Image.Image:
    """A page-shaped thumbnail: « PDF » and the page count (no rasteriser installed)."""
    from PIL import ImageDraw, ImageFont

    width, height = round(side / 1.414), side
    image = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width - 1, height - 1), outline=(11, 79, 108), width=6)
    draw.rectangle((0, 0, width - 1, round(height * 0.18)), fill=(11, 79, 108))
    big = ImageFont.load_default(size=round(side * 0.2))
    small = ImageFont.load_default(size=round(side * 0.08))
    draw.text((width / 2, height * 0.45), "PDF", font=big, fill=(161, 17, 17), anchor="mm")
    words = f"{pages} page" + ("s" if pages > 1 else "")
    draw.text((width / 2, height * 0.68), words, font=small, fill=(17, 17, 17), anchor="mm")
    return image


@functools.cache
def accepted_formats() -> tuple[str, ...]:
    """Pillow formats opened for uploads; HEIF only when pillow-heif is installed."""
    try:
        import pillow_heif  # optional, deliberately not a dependency
    except ImportError:
        return BASE_FORMATS
    pillow_heif.register_heif_opener()
    return (*BASE_FORMATS, "HEIF")


def _open(data: bytes) -> ImageFile.ImageFile:
    """Identify by content among the accepted formats; reads the header only."""
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Someone switched Pillow to grey-filling truncated files: storing such an
        # image would silently corrupt evidence, so fail loudly instead.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    with _OPEN_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(BytesIO(data), formats=accepted_formats())
        except UnidentifiedImageError as exc:
            names = ", ".join(_FORMAT_LABELS[f] for f in accepted_formats())
            raise UnsupportedMediaType(
                f"Format d'image non accepté : envoyez une photo ({names}).",
                code="unsupported_image_type",
            ) from exc
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise _too_large() from exc
        except _DECODE_ERRORS as exc:
            raise _corrupt() from exc


def _check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise _corrupt()
    if width * height > max_pixels:
        raise _too_large(details={"width": width, "height": height, "max_pixels": max_pixels})


def _decode(im: ImageFile.ImageFile) -> None:
    # load(), not verify(): verify() accepts truncated JPEGs.
    try:
        im.load()
    except _DECODE_ERRORS as exc:
        raise _corrupt() from exc


def _too_large(details: object = None) -> ValidationFailed:
    return ValidationFailed(
        "Image trop grande : réduisez sa définition avant de l'envoyer.",
        code="image_too_large",
        details=details,
    )


def _corrupt() -> ValidationFailed:
    return ValidationFailed(
        "Image illisible : le fichier est tronqué ou endommagé. Renvoyez la photo.",
        code="corrupt_image",
    )


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """`size` scaled so its long side is at most `side`, aspect kept; never enlarged."""
    width, height = size
    long = max(width, height)
    if long <= side:
        return size
    return max(1, round(width * side / long)), max(1, round(height * side / long))


def _read_exif(im: Image.Image) -> tuple[int, datetime | None]:
    """Orientation and capture time; damaged EXIF must not cost the photo itself.

    Read after load(): a PNG may carry its eXIf chunk after the image data.
    """
    try:
        exif = im.getexif()
        orientation = exif.get(_TAG_ORIENTATION, 1)
        taken = exif.get_ifd(_IFD_EXIF).get(_TAG_DATETIME_ORIGINAL) or exif.get(_TAG_DATETIME)
    except Exception:  # any parser failure (or warning turned error) means no usable EXIF
        return 1, None
    return (orientation if isinstance(orientation, int) else 1), _exif_datetime(taken)


def _exif_datetime(value: object) -> datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    text = value.strip(" \x00")[:19]
    for fmt in _EXIF_DATE_FORMATS:
        with suppress(ValueError):
            return datetime.strptime(text, fmt)
    return None


def _resizable(im: Image.Image) -> Image.Image:
    """Bring any decoded mode to L, RGB or RGBA, the modes resize handles well."""
    if im.mode.startswith("I"):  # 16-bit grey: convert() would clip, scale instead
        return im.point(lambda v: v / 256).convert("L")
    if im.mode == "RGBA" or (im.mode in ("L", "RGB") and "transparency" not in im.info):
        return im
    return im.convert("RGBA" if im.has_transparency_data else "RGB")


def _downscale(im: Image.Image, size: tuple[int, int], reducing_gap: float) -> Image.Image:
    return im if im.size == size else im.resize(size, RESAMPLE, reducing_gap=reducing_gap)


def _flatten(im: Image.Image) -> Image.Image:
    """RGB for JPEG; transparent areas become white, as on a printed dossier."""
    if im.mode == "RGBA":
        background = Image.new("RGB", im.size, "white")
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im if im.mode == "RGB" else im.convert("RGB")


def _encode_jpeg(im: Image.Image, quality: int) -> bytes:
    # save() writes EXIF/XMP/ICC only when passed explicitly; clearing info keeps it
    # that way should a Pillow version start reading them from there.
    im.info = {}
    buf = BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=False)
    return buf.getvalue()


LOGO_MAX_BYTES = 500_000
LOGO_MAX_SIDE = 2000


def check_logo(data: bytes) -> str:
    """The content type of a branch's logo (PNG or JPEG, small, decodable), printed on its
    PDFs; ValidationFailed(code="invalid_logo") otherwise."""
    refused = ValidationFailed(f"Logo refusé : une image PNG ou JPEG de {LOGO_MAX_BYTES // 1000} "
                               f"ko et {LOGO_MAX_SIDE} px de côté au plus.", code="invalid_logo")
    if not data or len(data) > LOGO_MAX_BYTES:
        raise refused
    try:
        with _OPEN_LOCK, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(BytesIO(data), formats=("PNG", "JPEG"))
            if max(im.size) > LOGO_MAX_SIDE:
                raise refused
            im.load()
    except (UnidentifiedImageError, Image.DecompressionBombWarning,
            Image.DecompressionBombError, *_DECODE_ERRORS) as exc:
        raise refused from exc
    return "image/png" if im.format == "PNG" else "image/jpeg"


# --- digests (RFC 9530) ---------------------------------------------------------------

_SF_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_SF_BYTES = re.compile(r":([A-Za-z0-9+/]*=*):")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_digest(data: bytes) -> str:
    """The `Content-Digest` header value for `data`."""
    return f"sha-256=:{base64.b64encode(hashlib.sha256(data).digest()).decode()}:"


def parse_content_digest(header: str | None) -> bytes | None:
    """The raw sha-256 digest from a `Content-Digest` (or `Repr-Digest`) value.

    None when the header is absent or names only other algorithms. Members follow
    RFC 8941 dictionaries: the last sha-256 wins, parameters are ignored.
    """
    if header is None or not header.strip():
        return None
    digest = None
    for member in header.split(","):  # base64 has no comma: a plain split is exact
        key, _, value = member.strip(" \t").partition("=")
        if not _SF_KEY.fullmatch(key):
            raise _bad_digest()
        if key == "sha-256":
            digest = _sha256_member(value.split(";", 1)[0])
    return digest


def _sha256_member(value: str) -> bytes:
    match = _SF_BYTES.fullmatch(value)
    if not match:
        raise _bad_digest()
    text = match[1].rstrip("=")  # RFC 8941: do not fail on missing padding
    try:
        digest = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except binascii.Error as exc:
        raise _bad_digest() from exc
    if len(digest) != hashlib.sha256().digest_size:
        raise _bad_digest()
    return digest


def _bad_digest() -> ValidationFailed:
    return ValidationFailed(
        "En-tête Content-Digest invalide : attendu sha-256=:<empreinte en base64>:.",
        code="bad_digest_header",
    )


# --- stores ---------------------------------------------------------------------------

_SHA_HEX = re.compile(r"[0-9a-f]{64}")


def check_sha(sha: object) -> str:
    """`sha` if it is a sha256 hex name; nothing else may become a path or a key."""
    if not isinstance(sha, str) or not _SHA_HEX.fullmatch(sha):
        raise ValidationFailed("Empreinte de photo invalide.", code="bad_photo_hash")
    return sha


class StoredFile(NamedTuple):
    sha: str
    size: int
    mtime: float  # seconds since the epoch


class PhotoStore(ABC):
    """Content-addressed photo bytes. Synchronous: call from a worker thread."""

    @abstractmethod
    def put(self, data: bytes) -> str:
        """Store durably (done when it returns) and return the sha256 hex."""

    @abstractmethod
    def open(self, sha: str) -> bytes:
        """The stored bytes; NotFound(code="photo_file_missing") if absent."""

    @abstractmethod
    def exists(self, sha: str) -> bool: ...

    @abstractmethod
    def verify(self, sha: str) -> bool:
        """True when the stored bytes still hash to `sha`."""

    @abstractmethod
    def delete(self, sha: str) -> None:
        """Remove; absent is fine."""

    @abstractmethod
    def iter_hashes(self) -> Iterator[str]: ...


class LocalPhotoStore(PhotoStore):
    """Files at `<root>/ab/cd/abcd…` (no extension: the database keeps the type)."""

    TEMP_PREFIX = ".tmp-"  # in-flight writes; a crash may leave some, never under a hash

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> str:
        sha = sha256_hex(data)
        target = self._locate(sha)
        # Shared: many puts at once; the collector's exclusive hold never sees a put
        # half done (see `delete_if_untouched`).
        with self._lock(fcntl.LOCK_SH):
            with suppress(FileNotFoundError):
                if target.stat().st_size == len(data):
                    # Reused: the fresh mtime tells the collector a row is about to
                    # name this file. The writer may not have synced the directory yet,
                    # and our caller is about to acknowledge: sync it.
                    os.utime(target)
                    _fsync_dir(target.parent)
                    return sha
            self._write(target, data)  # absent, or damaged: replace atomically
        return sha

    def open(self, sha: str) -> bytes:
        try:
            return self._locate(sha).read_bytes()
        except FileNotFoundError as exc:
            raise _missing() from exc

    def path(self, sha: str) -> Path:
        """The file, for FileResponse; NotFound if absent."""
        target = self._locate(sha)
        if not target.is_file():
            raise _missing()
        return target

    def exists(self, sha: str) -> bool:
        return self._locate(sha).is_file()

    def verify(self, sha: str) -> bool:
        try:
            with self._locate(sha).open("rb") as f:
                return hashlib.file_digest(f, "sha256").hexdigest() == sha
        except FileNotFoundError:
            return False

    def delete(self, sha: str) -> None:
        target = self._locate(sha)
        target.unlink(missing_ok=True)
        # Shard folders stay: removing one could race a concurrent put into it.
        _fsync_dir(target.parent)

    def iter_hashes(self) -> Iterator[str]:
        """Stored hashes in sorted order; temp files and strays are skipped."""
        for first in _sorted_dirs(self.root):
            for second in _sorted_dirs(first):
                for entry in sorted(second.iterdir()):
                    name = entry.name
                    if _SHA_HEX.fullmatch(name) and name[:4] == first.name + second.name:
                        yield name

    def iter_files(self) -> Iterator[StoredFile]:
        """Every stored photo file with its size and modification time."""
        for sha in self.iter_hashes():
            with suppress(FileNotFoundError):  # deleted since the listing
                st = self._locate(sha).stat()
                yield StoredFile(sha, st.st_size, st.st_mtime)

    def iter_temp_files(self) -> Iterator[tuple[Path, int, float]]:
        """In-flight or crash-left `.tmp-*` files: (path, size, mtime)."""
        for first in _sorted_dirs(self.root):
            for second in _sorted_dirs(first):
                for entry in sorted(second.glob(f"{self.TEMP_PREFIX}*")):
                    with suppress(FileNotFoundError):
                        st = entry.stat()
                        yield entry, st.st_size, st.st_mtime

    def delete_if_untouched(self, sha: str, before: float) -> int:
        """Delete the file unless written or reused (mtime) at or after `before`;
        the bytes freed (0 when kept or absent).

        The caller has seen no row naming `sha`. An upload puts its file first and
        commits its row after, so a file put since `before` may be about to be named:
        it stays. The exclusive lock makes the check and the unlink one step for every
        `put`, in this process or another."""
        target = self._locate(sha)
        with self._lock(fcntl.LOCK_EX):
            try:
                st = target.stat()
            except FileNotFoundError:
                return 0
            if st.st_mtime >= before:
                return 0
            target.unlink(missing_ok=True)
        _fsync_dir(target.parent)
        return st.st_size

    def check(self) -> None:
        """Raise unless the folder is there and writable (readiness)."""
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise OSError(f"photo folder not writable: {self.root}")

    def delete_temp_file(self, path: Path, before: float) -> int:
        """Remove a `.tmp-*` file last modified before `before`; the bytes freed."""
        path = Path(path)
        if not path.name.startswith(self.TEMP_PREFIX) or self.root not in path.parents:
            raise ValueError(f"not a temporary file of this store: {path}")
        try:
            st = path.stat()
        except FileNotFoundError:
            return 0
        if st.st_mtime >= before:
            return 0
        path.unlink(missing_ok=True)
        return st.st_size

    @contextlib.contextmanager
    def _lock(self, mode: int) -> Iterator[None]:
        """An advisory lock on `<root>.lock`, beside the tree so that listings of the tree
        see only photos (flock: released if the process dies)."""
        fd = os.open(self.root.with_name(self.root.name + ".lock"), os.O_RDWR | os.O_CREAT,
                     0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    def _locate(self, sha: str) -> Path:
        sha = check_sha(sha)
        return self.root / sha[:2] / sha[2:4] / sha

    def _write(self, target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=self.TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, target)
        except BaseException:
            with suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        # The rename, and shard folders possibly just created, must survive a crash.
        for folder in (target.parent, target.parent.parent, self.root):
            _fsync_dir(folder)


def _missing() -> NotFound:
    return NotFound("Fichier photo introuvable.", code="photo_file_missing")


def _sorted_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and len(p.name) == 2)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- S3-compatible store --------------------------------------------------------------


class S3PhotoStore(PhotoStore):
    """Objects at `<prefix>/ab/cd/abcd…` in a bucket of an S3-compatible store (the same
    layout as the folder, so `carnet photos migrate` copies names as they are).

    boto3 in a worker thread, like every PhotoStore call (docs/operations.md says why).
    Each write is conditional (`If-None-Match: *`: an object, once there, is never
    overwritten) and carries its SHA-256, which the store checks before accepting the body.
    A write that finds its object already there touches it (a copy onto itself) so that the
    collector, which spares what changed within the hour, spares it too."""

    CHUNK = 256 * 1024

    def __init__(self, url: str, *, endpoint_url: str | None = None, region: str | None = None,
                 access_key_id: str | None = None, secret_access_key: str | None = None,
                 client=None):
        bucket, prefix = parse_s3_url(url)
        self.url, self.bucket, self.prefix = url, bucket, prefix
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url or None, region_name=region or "us-east-1",
                aws_access_key_id=access_key_id or None,
                aws_secret_access_key=secret_access_key or None,
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                              retries={"max_attempts": 4,
                                                                        "mode": "standard"},
                              # The SHA-256 is sent explicitly; no extra CRC trailers.
                              request_checksum_calculation="when_required",
                              response_checksum_validation="when_required",
                              connect_timeout=5, read_timeout=30, max_pool_connections=20))
        self.client = client

    def key(self, sha: str) -> str:
        sha = check_sha(sha)
        return f"{self.prefix}{sha[:2]}/{sha[2:4]}/{sha}"

    def put(self, data: bytes) -> str:
        sha = sha256_hex(data)
        key = self.key(sha)
        checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
        for _ in range(3):
            try:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=data,
                                       ChecksumSHA256=checksum, IfNoneMatch="*",
                                       ContentType="application/octet-stream")
                return sha
            except Exception as exc:
                status = _s3_status(exc)
                if status not in (409, 412):  # 409: a concurrent write of the same key
                    raise
            if self._touch(key):
                return sha
        raise RuntimeError(f"could not store {sha} in {self.url}")

    def _touch(self, key: str) -> bool:
        """Refresh an existing object's modification time; False if it is gone."""
        try:
            self.client.copy_object(Bucket=self.bucket, Key=key,
                                    CopySource={"Bucket": self.bucket, "Key": key},
                                    MetadataDirective="REPLACE",
                                    ContentType="application/octet-stream")
            return True
        except Exception as exc:
            if _s3_status(exc) == 404:
                return False
            raise

    def _get(self, sha: str):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(sha))
        except Exception as exc:
            if _s3_status(exc) == 404:
                raise _missing() from exc
            raise

    def open(self, sha: str) -> bytes:
        return self._get(sha)["Body"].read()

    def stream(self, sha: str) -> tuple[int, Iterator[bytes]]:
        """The size and the bytes in chunks, read as they are sent (never held whole)."""
        response = self._get(sha)
        body = response["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(self.CHUNK)
            finally:
                body.close()

        return response["ContentLength"], chunks()

    def presigned_url(self, sha: str, seconds: int, content_type: str) -> str:
        return self.client.generate_presigned_url(
            "get_object", ExpiresIn=seconds,
            Params={"Bucket": self.bucket, "Key": self.key(sha),
                    "ResponseContentType": content_type})

    def head(self, sha: str) -> StoredFile | None:
        try:
            found = self.client.head_object(Bucket=self.bucket, Key=self.key(sha))
        except Exception as exc:
            if _s3_status(exc) == 404:
                return None
            raise
        return StoredFile(sha, found["ContentLength"], found["LastModified"].timestamp())

    def exists(self, sha: str) -> bool:
        return self.head(sha) is not None

    def verify(self, sha: str) -> bool:
        try:
            size, chunks = self.stream(sha)
        except NotFound:
            return False
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
        return digest.hexdigest() == sha

    def delete(self, sha: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(sha))

    def iter_files(self) -> Iterator[StoredFile]:
        """Every stored photo object, in key (hence hash) order."""
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix):]
                sha = name.rsplit("/", 1)[-1]
                if _SHA_HEX.fullmatch(sha) and name == f"{sha[:2]}/{sha[2:4]}/{sha}":
                    yield StoredFile(sha, item["Size"], item["LastModified"].timestamp())

    def iter_hashes(self) -> Iterator[str]:
        return (f.sha for f in self.iter_files())

    def iter_temp_files(self) -> Iterator[tuple[Path, int, float]]:
        return iter(())  # a write is one request: nothing half-written is ever listed

    def delete_temp_file(self, path: Path, before: float) -> int:
        raise ValueError(f"an S3 store has no temporary files: {path}")

    def delete_if_untouched(self, sha: str, before: float) -> int:
        """Delete the object unless written or touched at or after `before`; the bytes
        freed. Unlike the folder, S3 offers no lock spanning the check and the delete: an
        upload reusing this exact content in the milliseconds between them (after an hour
        unnamed) would lose its file; `carnet dossier verify` names any such photo."""
        found = self.head(sha)
        if found is None or found.mtime >= before:
            return 0
        self.delete(sha)
        return found.size

    def check(self) -> None:
        """Raise unless the bucket answers (readiness)."""
        self.client.head_bucket(Bucket=self.bucket)


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, key prefix ending in "/" or empty) from `s3://bucket/prefix`."""
    if not url.startswith("s3://"):
        raise ValueError(f"not an s3:// URL: {url!r}")
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ValueError(f"invalid bucket name in {url!r}")
    prefix = prefix.strip("/")
    return bucket, f"{prefix}/" if prefix else ""


def _s3_status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = response.get("Error", {}).get("Code")
    if code in ("NoSuchKey", "NotFound", "404"):
        return 404
    return status


def open_store(settings) -> PhotoStore:
    """The photo store the settings name: the data folder's `photos/` by default, or an
    S3-compatible bucket (`CARNET_PHOTO_STORE=s3://bucket/prefix`)."""
    if settings.photo_store.startswith("s3://"):
        return S3PhotoStore(settings.photo_store, endpoint_url=settings.s3_endpoint,
                            region=settings.s3_region, access_key_id=settings.s3_access_key_id,
                            secret_access_key=settings.s3_secret_access_key)
    return LocalPhotoStore(settings.photo_store or settings.photos_dir)
