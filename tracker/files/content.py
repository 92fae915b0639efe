"""What an uploaded file is, judged by its bytes: its type, its hidden metadata, its thumbnail.

The type comes from the magic bytes (the `filetype` package: a small, dependency-free table of
signatures); the name and the media type the client claims must agree with it. Images are stored
without their metadata (EXIF, with its GPS position, XMP, IPTC, comments), and get a small JPEG
thumbnail; PDF and office files are stored as they are, and the metadata that names people in them
(an author, who saved it last) is reported so that the page can warn.
"""

from __future__ import annotations

import io
import re
import warnings
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

PDF = "application/pdf"
JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
_OOXML = "application/vnd.openxmlformats-officedocument."
DOCX = _OOXML + "wordprocessingml.document"
XLSX = _OOXML + "spreadsheetml.sheet"
PPTX = _OOXML + "presentationml.presentation"
ODT = "application/vnd.oasis.opendocument.text"
ODS = "application/vnd.oasis.opendocument.spreadsheet"
DOC, XLS = "application/msword", "application/vnd.ms-excel"

#: The types accepted, with the file name endings that claim them.
ACCEPTED: dict[str, tuple[str, ...]] = {
    PDF: ("pdf",),
    JPEG: ("jpg", "jpeg"),
    PNG: ("png",),
    WEBP: ("webp",),
    DOCX: ("docx",),
    XLSX: ("xlsx",),
    PPTX: ("pptx",),
    ODT: ("odt",),
    ODS: ("ods",),
    DOC: ("doc",),
    XLS: ("xls",),
}
IMAGES = frozenset({JPEG, PNG, WEBP})
#: Old binary office files share one container (OLE2): its signature does not tell a .doc from a .xls.
_OLE = frozenset({DOC, XLS})
THUMBNAIL_BOX = (320, 320)
#: An image larger than this many pixels is refused rather than decoded (a decompression bomb).
MAX_PIXELS = 100_000_000


class Refused(Exception):
    """The file is not accepted; the message says why, without echoing its name."""


@dataclass(frozen=True)
class Checked:
    """An accepted upload: the bytes to store, its type, thumbnail and the metadata found in it."""

    data: bytes
    media_type: str
    thumbnail: bytes | None
    metadata_found: tuple[str, ...]


def accepted_list() -> str:
    return "PDF, JPEG, PNG, WebP, Word, Excel, PowerPoint, OpenDocument"


def sniff(data: bytes) -> str | None:
    """The accepted media type the bytes are, or None."""
    import filetype  # loaded on the first upload, not by every process that imports the services

    kind = filetype.guess(data[:8192] if len(data) > 8192 else data)
    mime = kind.mime if kind is not None else None
    if mime in ACCEPTED:
        return mime
    if mime in ("application/zip", None) and data[:2] == b"PK":
        return _zip_office(data)
    return None


def _zip_office(data: bytes) -> str | None:
    # filetype looks only at the first entries; an office file written by another program may order
    # them otherwise.
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                kind = archive.read("mimetype").decode("ascii", "replace").strip()
                return kind if kind in (ODT, ODS) else None
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    for prefix, mime in (("word/", DOCX), ("xl/", XLSX), ("ppt/", PPTX)):
        if any(n.startswith(prefix) for n in names) and "[Content_Types].xml" in names:
            return mime
    return None


def _same(a: str, b: str) -> bool:
    return a == b or (a in _OLE and b in _OLE)


def claimed_by_name(filename: str) -> str | None:
    ending = filename.rpartition(".")[2].lower() if "." in filename else ""
    return next((mime for mime, endings in ACCEPTED.items() if ending in endings), None)


def check(data: bytes, filename: str, claimed: str | None) -> Checked:
    """The upload as it is to be stored, or Refused saying what is wrong with it."""
    if not data:
        raise Refused("the file is empty")
    actual = sniff(data)
    if actual is None:
        raise Refused(f"the file's content is not of an accepted type ({accepted_list()})")
    by_name = claimed_by_name(filename)
    if "." in filename and by_name is None:
        raise Refused(f"the file name's ending is not one of an accepted type ({accepted_list()})")
    if by_name is not None and not _same(by_name, actual):
        raise Refused(f"the file's content is {actual}, but its name says {by_name}")
    said = (claimed or "").split(";")[0].strip().lower()
    if said and said != "application/octet-stream" and not _same(said, actual):
        raise Refused(f"the file's content is {actual}, but it was sent as {said}")
    if actual in IMAGES:
        stored, thumbnail = _image(data, actual)
        return Checked(stored, actual, thumbnail, ())
    return Checked(data, actual, None, tuple(metadata_in(data, actual)))


def _image(data: bytes, media_type: str) -> tuple[bytes, bytes]:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Refused(f"the image has more than {MAX_PIXELS} pixels")
                image.load()
                stored = strip_jpeg(data) if media_type == JPEG else _resaved(image, media_type)
                shown = ImageOps.exif_transpose(image)
                shown.thumbnail(THUMBNAIL_BOX)
                out = io.BytesIO()
                shown.convert("RGB").save(out, "JPEG", quality=80)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):  # fmt: skip
        raise Refused("the image cannot be read (damaged, cut short or too large)") from None
    return stored, out.getvalue()


def _resaved(image: Image.Image, media_type: str) -> bytes:
    # A PNG or WebP is written again from its pixels: no text chunks, no EXIF, no XMP.
    out = io.BytesIO()
    if media_type == PNG:
        image.save(out, "PNG", optimize=False)
    else:
        image.save(out, "WEBP", lossless=True)
    return out.getvalue()


#: JPEG segments kept: JFIF (APP0), the colour profile (APP2), Adobe's colour transform (APP14). All
#: other application segments (EXIF and XMP in APP1, IPTC in APP13, ...) and comments are dropped.
_KEEP_APP = frozenset({0xE0, 0xE2, 0xEE})


def strip_jpeg(data: bytes) -> bytes:
    """A JPEG without its metadata segments; the image data itself is copied unchanged (no re-encoding)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    out = bytearray(data[:2])
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError("damaged JPEG")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is image data
            out += data[i:]
            return bytes(out)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            out += data[i : i + 2]
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if length < 2 or i + 2 + length > len(data):
            raise ValueError("damaged JPEG")
        metadata = marker == 0xFE or (0xE0 <= marker <= 0xEF and marker not in _KEEP_APP)
        if not metadata:
            out += data[i : i + 2 + length]
        i += 2 + length
    raise ValueError("damaged JPEG")


_PDF_NAMES = (
    ("author", re.compile(rb"/Author\s*(\((?!\))|<(?!>))")),
    ("author", re.compile(rb"<dc:creator>\s*<rdf:(Seq|Bag)>\s*<rdf:li[^>]*>\s*[^<\s]")),
)
_OFFICE_NAMES = (
    ("author", re.compile(r"<dc:creator>\s*[^<\s]")),
    ("author", re.compile(r"<meta:initial-creator>\s*[^<\s]")),
    ("last_modified_by", re.compile(r"<cp:lastModifiedBy>\s*[^<\s]")),
)


def metadata_in(data: bytes, media_type: str) -> list[str]:
    """Which metadata naming a person the file carries ("author", "last_modified_by"), as far as seen.

    A PDF is searched for an /Author entry and XMP's dc:creator where they are not compressed; an
    OOXML or OpenDocument file's document properties are read. Old binary office files are not looked into.
    """
    found: list[str] = []
    if media_type == PDF:
        found = [name for name, pattern in _PDF_NAMES if pattern.search(data)]
    elif media_type in (DOCX, XLSX, PPTX, ODT, ODS):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
                text = "".join(
                    archive.read(n)[:200_000].decode("utf-8", "replace")
                    for n in ("docProps/core.xml", "meta.xml")
                    if n in names
                )
        except (zipfile.BadZipFile, OSError, KeyError):
            return []
        found = [name for name, pattern in _OFFICE_NAMES if pattern.search(text)]
    return sorted(set(found))
