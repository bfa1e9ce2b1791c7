"""Checking note attachments before anything is stored.

Every multipart upload on the site streams through `LimitedUploadHandler` (settings.
FILE_UPLOAD_HANDLERS): each file goes to a temporary file on disk, never to memory, and a file
that passes NOTES_MAX_UPLOAD_BYTES (or comes after the NOTES_MAX_FILES-th file of the request) is
refused while it streams: its temporary file is deleted, the rest of its bytes are discarded, and
request.FILES holds a `RejectedUpload` in its place, so the text fields and the other files of the
request survive.

`check_upload` then decides whether a file is one we keep: its extension must be on the
allow-list (`ALLOWED`) and its content (magic bytes, sniffed with `filetype`; the zip directory
for office documents; a UTF-8 check for .txt/.csv) must be a type that extension allows. It reads
only the head of the file to sniff, and the rest in chunks to hash it. The uploader's filename is
kept only as display metadata (`CheckedUpload.original_name`); files are stored under names from
`storage_name`, which never derive from it.

Every refusal is a `Refusal` whose str() says which file and what was wrong, e.g.
"voice-memo.exe: this file type is not accepted".
"""

from __future__ import annotations

import codecs
import hashlib
import os
import struct
import unicodedata
import uuid
import zipfile
from dataclasses import dataclass

import filetype
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, TemporaryFileUploadHandler
from django.db import models

__all__ = [
    "ALLOWED",
    "CheckedUpload",
    "Kind",
    "LimitedUploadHandler",
    "Refusal",
    "RejectedUpload",
    "check_upload",
    "check_uploads",
    "display_name",
    "max_upload_bytes",
    "max_upload_files",
    "max_upload_mb",
    "storage_name",
]

KB = 1024
MB = 1024 * 1024


class Kind(models.TextChoices):
    PHOTO = "photo", "Photo"
    DOCUMENT = "document", "Document"
    AUDIO = "audio", "Voice or audio"


# MIME types as filetype 1.2 reports them (plus the few we sniff ourselves, see _sniff).
_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
_ODT = "application/vnd.oasis.opendocument.text"
_ODS = "application/vnd.oasis.opendocument.spreadsheet"
_ODP = "application/vnd.oasis.opendocument.presentation"

# extension (lowercase, with dot) -> (kind, the content-sniffed MIME types that extension accepts)
ALLOWED: dict[str, tuple[Kind, frozenset[str]]] = {
    # photos
    ".jpg": (Kind.PHOTO, frozenset({"image/jpeg"})),
    ".jpeg": (Kind.PHOTO, frozenset({"image/jpeg"})),
    ".png": (Kind.PHOTO, frozenset({"image/png", "image/apng"})),  # an animated PNG is still a PNG
    ".gif": (Kind.PHOTO, frozenset({"image/gif"})),
    ".webp": (Kind.PHOTO, frozenset({"image/webp"})),
    ".heic": (Kind.PHOTO, frozenset({"image/heic"})),
    # documents
    ".pdf": (Kind.DOCUMENT, frozenset({"application/pdf"})),
    ".docx": (Kind.DOCUMENT, frozenset({_DOCX})),
    ".xlsx": (Kind.DOCUMENT, frozenset({_XLSX})),
    ".pptx": (Kind.DOCUMENT, frozenset({_PPTX})),
    ".odt": (Kind.DOCUMENT, frozenset({_ODT})),
    ".ods": (Kind.DOCUMENT, frozenset({_ODS})),
    ".odp": (Kind.DOCUMENT, frozenset({_ODP})),
    ".txt": (Kind.DOCUMENT, frozenset({"text/plain"})),  # no magic bytes: UTF-8 without NULs
    ".csv": (Kind.DOCUMENT, frozenset({"text/csv"})),
    # voice and audio memos
    ".mp3": (Kind.AUDIO, frozenset({"audio/mpeg"})),
    # iPhone voice memos carry the M4A brand (audio/mp4); many Android recorders write an
    # isom/mp42 brand, which filetype calls video/mp4
    ".m4a": (Kind.AUDIO, frozenset({"audio/mp4", "video/mp4"})),
    ".aac": (Kind.AUDIO, frozenset({"audio/aac", "audio/mp4"})),  # raw ADTS, or AAC in an M4A box
    ".ogg": (Kind.AUDIO, frozenset({"audio/ogg"})),  # Telegram voice notes: Ogg Opus
    ".oga": (Kind.AUDIO, frozenset({"audio/ogg"})),
    ".opus": (Kind.AUDIO, frozenset({"audio/ogg"})),
    ".wav": (Kind.AUDIO, frozenset({"audio/x-wav"})),
    ".webm": (Kind.AUDIO, frozenset({"video/webm"})),  # what browsers record (audio/webm)
    ".flac": (Kind.AUDIO, frozenset({"audio/x-flac"})),
    ".amr": (Kind.AUDIO, frozenset({"audio/amr", "audio/amr-wb"})),
}

# The type an audio file is served as when filetype named its (audio-only) container as video.
_SERVE_AS = {
    (Kind.AUDIO, "video/webm"): "audio/webm",
    (Kind.AUDIO, "video/mp4"): "audio/mp4",
}

_TEXT_TYPES = {".txt": "text/plain", ".csv": "text/csv"}
_ZIP_DOCUMENTS = frozenset({".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp"})
_OOXML_MAIN = (  # the main part's content type in [Content_Types].xml -> the document's type
    (b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", _DOCX),
    (b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", _XLSX),
    (b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml", _PPTX),
)
_ODF_TYPES = frozenset({_ODT, _ODS, _ODP})
_HEIF_BRANDS = frozenset({"heic", "heix", "heim", "heis", "hevc", "hevx", "hevm", "hevs"})

HEAD_BYTES = 8 * KB  # what filetype looks at
TEXT_HEAD_BYTES = 64 * KB  # what the .txt/.csv check looks at
CHUNK_BYTES = 64 * KB  # reading for the hash
_MAX_ZIP_PART = 1 * MB  # [Content_Types].xml / mimetype are read at most this far
MAX_NAME_CHARS = 200

# --- limits and refusal texts ------------------------------------------------------------------

NOT_ACCEPTED = "this file type is not accepted"
EMPTY = "the file is empty"


def max_upload_bytes() -> int:
    return int(settings.NOTES_MAX_UPLOAD_BYTES)


def max_upload_files() -> int:
    return int(settings.NOTES_MAX_FILES)


def max_upload_mb() -> int | float:
    """The size limit in MB for display: 10, or 0.5 when the limit is not a whole number of MB."""
    mb = max_upload_bytes() / MB
    return int(mb) if mb.is_integer() else round(mb, 2)


def size_text(n: int) -> str:
    """'10 MB', '10.5 MB', '64 KB', '1,000 bytes'."""
    if n >= MB:
        return f"{n // MB} MB" if n % MB == 0 else f"{n / MB:.1f} MB"
    if n >= KB and n % KB == 0:
        return f"{n // KB} KB"
    return f"{n:,} bytes"


def mismatch_reason(extension: str) -> str:
    return f"the file's contents do not match its {extension} extension"


def too_large_reason() -> str:
    return f"the file is larger than {size_text(max_upload_bytes())}"


def too_many_reason() -> str:
    return f"too many files: at most {max_upload_files()} per note"


class Refusal(Exception):
    """Why one file was not kept. str() -> "voice-memo.exe: this file type is not accepted".

    code is one of "not_accepted", "mismatch", "empty", "too_large", "too_many"."""

    def __init__(self, filename: str, reason: str, code: str = ""):
        super().__init__(filename, reason)
        self.filename = filename
        self.reason = reason
        self.code = code

    def __str__(self) -> str:
        return f"{self.filename}: {self.reason}"

    def __repr__(self) -> str:
        return f"Refusal({self.filename!r}, {self.reason!r})"


# --- display names -----------------------------------------------------------------------------


def display_name(name) -> str:
    """The uploader's filename made safe to show and to put in a header: the last path component
    only, no control or format characters (newlines, NUL, right-to-left overrides...), whitespace
    collapsed, at most MAX_NAME_CHARS characters keeping the extension. Never a storage path."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    kept = []
    for char in name:
        category = unicodedata.category(char)
        if char.isspace() or category in ("Zs", "Zl", "Zp"):
            kept.append(" ")
        elif category[0] != "C":  # Cc control, Cf format, Cs/Co/Cn surrogate/private/unassigned
            kept.append(char)
    name = " ".join("".join(kept).split())
    if len(name) > MAX_NAME_CHARS:
        stem, ext = os.path.splitext(name)
        if 1 < len(ext) <= 16:
            name = stem[: MAX_NAME_CHARS - len(ext)].rstrip() + ext
        else:
            name = name[:MAX_NAME_CHARS]
    return name or "unnamed"


# --- what the upload handler leaves in request.FILES for a refused file ------------------------


class RejectedUpload(UploadedFile):
    """Stands in request.FILES for a file the upload handler refused while it streamed. It is an
    UploadedFile (so forms and django-ninja's File[UploadedFile] take it) with no content;
    `refusal` says what was wrong, and check_upload turns it into that Refusal."""

    def __init__(self, name, size, reason, *, field_name=None, content_type=None, charset=None,
                 content_type_extra=None, code=""):
        try:
            super().__init__(None, name, content_type, size, charset, content_type_extra)
        except SuspiciousFileOperation:
            super().__init__(None, "unnamed", content_type, size, charset, content_type_extra)
        self.field_name = field_name
        self.reason = reason
        self.code = code

    @property
    def refusal(self) -> Refusal:
        return Refusal(display_name(self.name), self.reason, self.code)

    def __bool__(self):  # the multipart parser only keeps truthy results of file_complete
        return True

    def __repr__(self):
        return f"<RejectedUpload: {self.name} ({self.reason})>"

    def read(self, *args, **kwargs) -> bytes:
        return b""

    def readline(self, *args, **kwargs) -> bytes:
        return b""

    def chunks(self, chunk_size=None):
        return iter(())

    def multiple_chunks(self, chunk_size=None) -> bool:
        return False

    def __iter__(self):
        return iter(())

    def seek(self, *args, **kwargs) -> int:
        return 0

    def tell(self) -> int:
        return 0

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def open(self, mode=None, *args, **kwargs):
        return self

    def close(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return True


# --- the upload handler ------------------------------------------------------------------------


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams each uploaded file to a temporary file on disk, whatever its size, counting bytes.

    A file that would pass NOTES_MAX_UPLOAD_BYTES stops being written: its temporary file is
    closed and deleted, the rest of its chunks are discarded, and file_complete returns a
    RejectedUpload. Files after the NOTES_MAX_FILES-th of a request are refused the same way
    (without a temporary file at all). The request carries on with its other files and fields."""

    def __init__(self, request=None):
        super().__init__(request)
        self.max_bytes = max_upload_bytes()
        self.max_files = max_upload_files()
        self.files_seen = 0
        self.received = 0
        self.rejection: tuple[str, str] | None = None  # (reason, code) for the current file

    def new_file(self, field_name, file_name, content_type, content_length, charset=None,
                 content_type_extra=None):
        self.files_seen += 1
        self.received = 0
        self.rejection = None
        if self.files_seen > self.max_files:
            FileUploadHandler.new_file(self, field_name, file_name, content_type, content_length, charset,
                                       content_type_extra)
            # self.file still names the previous (finished, kept) file: forget it, so that
            # upload_interrupted cannot delete that one
            self.__dict__.pop("file", None)
            self.rejection = (too_many_reason(), "too_many")
            return
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)

    def receive_data_chunk(self, raw_data, start):
        if self.rejection is not None:
            return None
        if self.received + len(raw_data) > self.max_bytes:
            self.rejection = (too_large_reason(), "too_large")
            self._discard_file()
            return None
        self.received += len(raw_data)
        self.file.write(raw_data)
        return None

    def file_complete(self, file_size):
        if self.rejection is not None:
            reason, code = self.rejection
            return RejectedUpload(self.file_name, file_size, reason, field_name=self.field_name,
                                  content_type=self.content_type, charset=self.charset,
                                  content_type_extra=self.content_type_extra, code=code)
        return super().file_complete(file_size)

    def upload_interrupted(self):
        if self.rejection is not None:
            self._discard_file()
        else:
            super().upload_interrupted()

    def _discard_file(self) -> None:
        file = self.__dict__.pop("file", None)
        if file is None:
            return
        path = file.temporary_file_path()
        try:
            file.close()  # a NamedTemporaryFile removes itself on close
        except FileNotFoundError:
            pass
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


# --- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckedUpload:
    file: object  # the uploaded file, rewound to 0
    original_name: str  # display metadata only (see display_name)
    extension: str  # ".pdf"
    kind: Kind
    content_type: str  # the sniffed type it is served as
    size: int
    sha256: str  # hex


def check_upload(f) -> CheckedUpload:
    """Check one uploaded file (an UploadedFile, or any seekable file object with a name);
    raise Refusal when it is not one we keep. Reads the head to sniff, the rest in chunks."""
    if isinstance(f, RejectedUpload):
        raise f.refusal
    name = display_name(getattr(f, "name", ""))
    given_extension = os.path.splitext(name)[1]
    extension = given_extension.lower()
    if extension not in ALLOWED:
        raise Refusal(name, NOT_ACCEPTED, "not_accepted")
    kind, accepted = ALLOWED[extension]
    limit = max_upload_bytes()
    size = _size_of(f)
    if size == 0:
        raise Refusal(name, EMPTY, "empty")
    if size is not None and size > limit:
        raise Refusal(name, too_large_reason(), "too_large")
    f.seek(0)
    head = f.read(HEAD_BYTES)
    if not head:
        raise Refusal(name, EMPTY, "empty")
    sniffed = _sniff(f, extension, bytes(head), accepted)
    if sniffed not in accepted:
        raise Refusal(name, mismatch_reason(given_extension), "mismatch")
    digest = hashlib.sha256()
    size = 0
    f.seek(0)
    while chunk := f.read(CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            f.seek(0)
            raise Refusal(name, too_large_reason(), "too_large")
        digest.update(chunk)
    f.seek(0)
    return CheckedUpload(file=f, original_name=name, extension=extension, kind=kind,
                         content_type=_SERVE_AS.get((kind, sniffed), sniffed), size=size,
                         sha256=digest.hexdigest())


def check_uploads(files) -> tuple[list[CheckedUpload], list[Refusal]]:
    """The good files and the refusals, each in the order given."""
    checked, refusals = [], []
    for f in files:
        try:
            checked.append(check_upload(f))
        except Refusal as refusal:
            refusals.append(refusal)
    return checked, refusals


def storage_name(session_id: int, extension: str, *, folder: str = "notes") -> str:
    """A fresh name for a stored file (notes' attachments, the room's resources under "resources"):
    never derived from the uploader's filename."""
    extension = extension.lower()
    if extension not in ALLOWED:
        raise ValueError(f"not an accepted extension: {extension!r}")
    if folder not in ("notes", "resources"):
        raise ValueError(f"not a storage folder: {folder!r}")
    return f"{folder}/{int(session_id)}/{uuid.uuid4().hex}{extension}"


# --- sniffing ----------------------------------------------------------------------------------


def _size_of(f) -> int | None:
    size = getattr(f, "size", None)
    if isinstance(size, int):
        return size
    try:
        size = f.seek(0, os.SEEK_END)
        if not isinstance(size, int):
            size = f.tell()
        return size
    except (AttributeError, OSError, ValueError):
        return None
    finally:
        try:
            f.seek(0)
        except (AttributeError, OSError, ValueError):
            pass


def _sniff(f, extension: str, head: bytes, accepted: frozenset[str]) -> str | None:
    """The content type of the file as far as this extension's check can tell, else None."""
    if extension in _TEXT_TYPES:
        return _TEXT_TYPES[extension] if _is_utf8_text(f) else None
    if extension in _ZIP_DOCUMENTS and head.startswith(b"PK\x03\x04"):
        return _sniff_zip_document(f)
    try:
        sniffed = filetype.guess_mime(head)
    except Exception:  # noqa: BLE001 - a matcher choking on hostile bytes means "not recognised"
        sniffed = None
    if sniffed in accepted:
        return sniffed
    fallback = _FALLBACKS.get(extension)
    return (fallback(head) or sniffed) if fallback else sniffed


def _is_utf8_text(f) -> bool:
    """The first 64 KB decode as UTF-8 and hold no NUL byte (a character cut at 64 KB is fine)."""
    f.seek(0)
    data = f.read(TEXT_HEAD_BYTES)
    whole = not f.read(1)
    if not data or b"\x00" in data:
        return False
    try:
        codecs.getincrementaldecoder("utf-8")().decode(data, final=whole)
    except UnicodeDecodeError:
        return False
    return True


def _sniff_zip_document(f) -> str | None:
    """An office document's type from its zip directory: ODF by its `mimetype` entry, OOXML by the
    main part in [Content_Types].xml. A zip that is neither is "application/zip"."""
    size = _size_of(f)
    if not size or not _small_zip_directory(f, size):
        return None
    try:
        f.seek(0)
        with zipfile.ZipFile(f) as archive:  # reads the central directory; the file is not loaded
            names = set(archive.namelist())
            if "mimetype" in names:
                declared = _read_member(archive, "mimetype").strip().decode("ascii", "replace")
                return declared if declared in _ODF_TYPES else "application/zip"
            if "[Content_Types].xml" in names:
                content_types = _read_member(archive, "[Content_Types].xml")
                for main, mime in _OOXML_MAIN:
                    if main in content_types:
                        return mime
            return "application/zip"
    except Exception:  # noqa: BLE001 - a corrupt, encrypted or hostile zip is simply not a document
        return None
    finally:
        f.seek(0)


def _read_member(archive: zipfile.ZipFile, name: str) -> bytes:
    with archive.open(name) as member:
        return member.read(_MAX_ZIP_PART)


def _small_zip_directory(f, size: int) -> bool:
    """Whether the end-of-central-directory record describes a plain (not zip64) zip with at most
    settings.NOTES_ZIP_MAX_ENTRIES entries in at most settings.NOTES_ZIP_MAX_DIRECTORY_BYTES bytes:
    checked before zipfile reads and lists the directory, so a zip of a hundred thousand empty
    entries is never listed."""
    tail_len = min(size, 22 + 0xFFFF)
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return False
    # a zip64 locator right before the record (or room for one we did not read): refused, no
    # office document of this size needs zip64
    if tail[at - 20:at - 16] == b"PK\x06\x07" if at >= 20 else tail_len < size:
        return False
    entries, directory_size = struct.unpack_from("<HI", tail, at + 10)
    return (entries <= settings.NOTES_ZIP_MAX_ENTRIES
            and directory_size <= settings.NOTES_ZIP_MAX_DIRECTORY_BYTES)


def _heif(head: bytes) -> str | None:
    """HEIC/HEIF stills whose ftyp brands filetype does not know (heix, hevc, ...)."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    box = min(int.from_bytes(head[0:4], "big"), len(head))
    brands = {head[8:12].decode("latin-1")}
    brands.update(head[i:i + 4].decode("latin-1") for i in range(16, box - 3, 4))
    return "image/heic" if brands & _HEIF_BRANDS else None


def _mpeg_audio(head: bytes) -> str | None:
    """An MP3 without an ID3 tag whose first frame filetype does not know (MPEG 2.5, with CRC)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    if version == 1 or layer != 1 or bitrate in (0, 15) or rate == 3:
        return None
    return "audio/mpeg"


def _adts(head: bytes) -> str | None:
    """Raw AAC (ADTS) frames, with or without CRC (filetype knows only the CRC-less ones)."""
    return "audio/aac" if len(head) >= 7 and head[0] == 0xFF and head[1] & 0xF6 == 0xF0 else None


def _amr_wb(head: bytes) -> str | None:
    return "audio/amr-wb" if head.startswith(b"#!AMR-WB\n") else None


def _webm(head: bytes) -> str | None:
    """A WebM whose DocType element filetype misses (a longer size field before "webm")."""
    ebml = head[:64]
    return "video/webm" if ebml.startswith(b"\x1a\x45\xdf\xa3") and b"\x42\x82" in ebml and b"webm" in ebml else None


_FALLBACKS = {".heic": _heif, ".mp3": _mpeg_audio, ".aac": _adts, ".amr": _amr_wb, ".webm": _webm}
