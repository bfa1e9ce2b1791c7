"""Tiny sample files, built in memory, for upload tests (unit, API and browser tests share them).

    sample("jpg")          -> ("photo.jpg", b"\\xff\\xd8...", "image/jpeg")
    sample(".PDF")         -> ("worksheet.pdf", b"%PDF-1.4...", "application/pdf")   (dot and case ignored)
    sample("photo")        -> a kind: "photo" (jpg), "document" (pdf), "audio" (mp3), "voice" (Telegram ogg)
    sample("exe-as-jpg")   -> ("photo.jpg", b"MZ...", "image/jpeg")                    (see NASTY)
    sample("pdf", name="../../etc/passwd.pdf", size=10 * 1024 * 1024)   (padded with NULs to exactly size)
    uploaded("png")        -> a SimpleUploadedFile of the same
    write_multipart(path, fields={"text": "hi"}, files=[("files", *sample("pdf"))])
                           -> the CONTENT_TYPE of a multipart body written to path chunk by chunk

GOOD lists every accepted extension (each has a sample); NASTY maps each bad sample to the exact
refusal the upload check gives for it.
"""

from __future__ import annotations

import io
import random
import re
import struct
import zipfile
from dataclasses import dataclass
from urllib.parse import quote

from django.core.files.uploadedfile import SimpleUploadedFile

from notes import samples  # the builders seed_demo uses too

# --- photos ------------------------------------------------------------------------------------


def jpeg() -> bytes:
    """A 1x1 grey baseline JPEG: one-code Huffman tables, a single all-zero block."""

    def segment(marker: int, payload: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload

    one_code = bytes([1] + [0] * 15) + b"\x00"  # one code of length 1 -> symbol 0
    return b"".join([
        b"\xff\xd8",
        segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
        segment(0xDB, b"\x00" + b"\x01" * 64),
        segment(0xC0, b"\x08\x00\x01\x00\x01\x01\x01\x11\x00"),
        segment(0xC4, b"\x00" + one_code),  # DC table 0: category 0
        segment(0xC4, b"\x10" + one_code),  # AC table 0: end of block
        segment(0xDA, b"\x01\x01\x00\x00\x3f\x00"),
        b"\x3f",  # DC "0" + EOB "0", padded with 1 bits
        b"\xff\xd9",
    ])


def png() -> bytes:
    return samples.png(1, 1)


def gif() -> bytes:
    return (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
            b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")


def webp() -> bytes:
    """A 1x1 lossless WebP."""
    return (b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88"
            b"\xfe\x07\x00")


def heic() -> bytes:
    """The head of an iPhone HEIC: its ftyp box and an empty meta box."""
    ftyp = b"ftyp" + b"heic" + b"\x00\x00\x00\x00" + b"mif1heic"
    meta = b"meta" + b"\x00\x00\x00\x00"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + struct.pack(">I", len(meta) + 4) + meta


# --- documents ---------------------------------------------------------------------------------


def pdf(text: str = "Worksheet") -> bytes:
    return samples.pdf(text)


def _zip(entries: list[tuple[str, bytes]], *, stored_first: bool = False) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index, (name, data) in enumerate(entries):
            info = zipfile.ZipInfo(name, date_time=(2026, 11, 16, 10, 0, 0))
            info.compress_type = zipfile.ZIP_STORED if stored_first and index == 0 else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


_OOXML = "application/vnd.openxmlformats-officedocument"
_RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _content_types(*overrides: tuple[str, str]) -> bytes:
    parts = "".join(f'<Override PartName="{name}" ContentType="{kind}"/>' for name, kind in overrides)
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{parts}</Types>').encode()


def _rels(*targets: tuple[str, str]) -> bytes:
    rels = "".join(f'<Relationship Id="rId{i}" Type="{kind}" Target="{target}"/>'
                   for i, (kind, target) in enumerate(targets, 1))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<Relationships xmlns="{_RELS_NS}">{rels}</Relationships>').encode()


def docx() -> bytes:
    document = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                "<w:body><w:p><w:r><w:t>Essay</w:t></w:r></w:p></w:body></w:document>").encode()
    return _zip([
        ("[Content_Types].xml",
         _content_types(("/word/document.xml", f"{_OOXML}.wordprocessingml.document.main+xml"))),
        ("_rels/.rels", _rels((f"{_DOC_REL}/officeDocument", "word/document.xml"))),
        ("word/document.xml", document),
    ])


def xlsx() -> bytes:
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    workbook = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="{main}" '
                f'xmlns:r="{_DOC_REL}"><sheets><sheet name="Scores" sheetId="1" r:id="rId1"/></sheets>'
                "</workbook>").encode()
    sheet = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="{main}"><sheetData>'
             '<row r="1"><c r="A1"><v>5</v></c></row></sheetData></worksheet>').encode()
    return _zip([
        ("[Content_Types].xml",
         _content_types(("/xl/workbook.xml", f"{_OOXML}.spreadsheetml.sheet.main+xml"),
                        ("/xl/worksheets/sheet1.xml", f"{_OOXML}.spreadsheetml.worksheet+xml"))),
        ("_rels/.rels", _rels((f"{_DOC_REL}/officeDocument", "xl/workbook.xml"))),
        ("xl/workbook.xml", workbook),
        ("xl/_rels/workbook.xml.rels", _rels((f"{_DOC_REL}/worksheet", "worksheets/sheet1.xml"))),
        ("xl/worksheets/sheet1.xml", sheet),
    ])


def pptx() -> bytes:
    presentation = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?><p:presentation '
                    'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>').encode()
    return _zip([
        ("[Content_Types].xml", _content_types(("/ppt/presentation.xml",
                                                f"{_OOXML}.presentationml.presentation.main+xml"))),
        ("_rels/.rels", _rels((f"{_DOC_REL}/officeDocument", "ppt/presentation.xml"))),
        ("ppt/presentation.xml", presentation),
    ])


def _odf(kind: str, body: str) -> bytes:
    mime = f"application/vnd.oasis.opendocument.{kind}"
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{mime}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                "</manifest:manifest>").encode()
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content '
               'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
               f"<office:body>{body}</office:body></office:document-content>").encode()
    return _zip([("mimetype", mime.encode()), ("META-INF/manifest.xml", manifest), ("content.xml", content)],
                stored_first=True)


def odt() -> bytes:
    return _odf("text", "<office:text><text:p>Essay</text:p></office:text>")


def ods() -> bytes:
    return _odf("spreadsheet", "<office:spreadsheet/>")


def odp() -> bytes:
    return _odf("presentation", "<office:presentation/>")


def txt() -> bytes:
    return "Homework: pages 12–14 ✓\nСэм молодец — 5/5\n".encode()


def csv() -> bytes:
    return "student,score\nSam,5\nSüe,4\n".encode()


# --- voice and audio ---------------------------------------------------------------------------


def mp3() -> bytes:
    """An ID3v2.4 tag and two silent MPEG-1 Layer III frames (128 kbit/s, 44.1 kHz, mono)."""
    frame = b"\xff\xfb\x90\xc4" + b"\x00" * 413  # 144 * 128000 / 44100 = 417 bytes
    return b"ID3\x04\x00\x00\x00\x00\x00\x00" + frame * 2


def m4a() -> bytes:
    """The head of an iPhone voice memo: ftyp (M4A brand), then free and empty mdat boxes."""
    ftyp = b"ftyp" + b"M4A " + b"\x00\x00\x02\x00" + b"M4A isommp42"
    return struct.pack(">I", len(ftyp) + 4) + ftyp + b"\x00\x00\x00\x08free" + b"\x00\x00\x00\x08mdat"


def aac() -> bytes:
    """One ADTS frame: AAC LC, 44.1 kHz, stereo, 16 bytes."""
    return b"\xff\xf1\x50\x80\x02\x1f\xfc" + b"\x00" * 9


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(packet: bytes, *, sequence: int, flags: int, granule: int) -> bytes:
    assert len(packet) < 255
    header = struct.pack("<4sBBqIIIB", b"OggS", 0, flags, granule, 0x7E1E6A7E, sequence, 0, 1)
    header += bytes([len(packet)])
    page = header + packet
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def ogg() -> bytes:
    """A Telegram-style Ogg Opus voice note: OpusHead, OpusTags and one 20 ms silent packet."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    vendor = b"tests"
    tags = b"OpusTags" + struct.pack("<I", len(vendor)) + vendor + struct.pack("<I", 0)
    return (_ogg_page(head, sequence=0, flags=0x02, granule=0)
            + _ogg_page(tags, sequence=1, flags=0x00, granule=0)
            + _ogg_page(b"\xf8\xff\xfe", sequence=2, flags=0x04, granule=960))


def wav() -> bytes:
    return samples.wav(0.05)


def webm() -> bytes:
    """The head of what a browser's MediaRecorder writes: EBML header (DocType webm), a Segment of
    unknown size and its Info."""
    ebml = (b"\x42\x86\x81\x01" b"\x42\xf7\x81\x01" b"\x42\xf2\x81\x04" b"\x42\xf3\x81\x08"
            b"\x42\x82\x84webm" b"\x42\x87\x81\x04" b"\x42\x85\x81\x02")
    info = b"\x2a\xd7\xb1\x83\x0f\x42\x40" + b"\x4d\x80\x85tests" + b"\x57\x41\x85tests"
    return (b"\x1a\x45\xdf\xa3" + bytes([0x80 | len(ebml)]) + ebml
            + b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"
            + b"\x15\x49\xa9\x66" + bytes([0x80 | len(info)]) + info)


def flac() -> bytes:
    """fLaC and its STREAMINFO block (44.1 kHz, mono, 16 bit, no frames)."""
    packed = (44100 << 44) | (0 << 41) | (15 << 36)
    streaminfo = struct.pack(">HH", 4096, 4096) + b"\x00" * 6 + struct.pack(">Q", packed) + b"\x00" * 16
    return b"fLaC" + bytes([0x80]) + len(streaminfo).to_bytes(3, "big") + streaminfo


def amr() -> bytes:
    """AMR-NB: the magic line and two 12.2 kbit/s frames."""
    return b"#!AMR\n" + (b"\x3c" + b"\x00" * 31) * 2


# --- bad ones ----------------------------------------------------------------------------------


def exe() -> bytes:
    """The start of a Windows executable (MZ header and DOS stub)."""
    return (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"\x80\x00\x00\x00"
            + b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21"
            + b"This program cannot be run in DOS mode.\r\r\n$" + b"\x00" * 64)


def plain_zip() -> bytes:
    return _zip([("notes.txt", b"not a document\n")])


def random_bytes() -> bytes:
    return random.Random(20261116).randbytes(4096)


# --- the catalogue -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    filename: str
    build: object  # () -> bytes
    content_type: str  # what a browser would claim


_GOOD = {
    "jpg": Sample("photo.jpg", jpeg, "image/jpeg"),
    "jpeg": Sample("photo.jpeg", jpeg, "image/jpeg"),
    "png": Sample("diagram.png", png, "image/png"),
    "gif": Sample("animation.gif", gif, "image/gif"),
    "webp": Sample("photo.webp", webp, "image/webp"),
    "heic": Sample("photo.heic", heic, "image/heic"),
    "pdf": Sample("worksheet.pdf", pdf, "application/pdf"),
    "docx": Sample("essay.docx", docx, f"{_OOXML}.wordprocessingml.document"),
    "xlsx": Sample("scores.xlsx", xlsx, f"{_OOXML}.spreadsheetml.sheet"),
    "pptx": Sample("slides.pptx", pptx, f"{_OOXML}.presentationml.presentation"),
    "odt": Sample("essay.odt", odt, "application/vnd.oasis.opendocument.text"),
    "ods": Sample("scores.ods", ods, "application/vnd.oasis.opendocument.spreadsheet"),
    "odp": Sample("slides.odp", odp, "application/vnd.oasis.opendocument.presentation"),
    "txt": Sample("homework.txt", txt, "text/plain"),
    "csv": Sample("scores.csv", csv, "text/csv"),
    "mp3": Sample("voice-memo.mp3", mp3, "audio/mpeg"),
    "m4a": Sample("voice-memo.m4a", m4a, "audio/x-m4a"),
    "aac": Sample("voice-memo.aac", aac, "audio/aac"),
    "ogg": Sample("voice-note.ogg", ogg, "audio/ogg"),
    "oga": Sample("voice-note.oga", ogg, "audio/ogg"),
    "opus": Sample("voice-note.opus", ogg, "audio/opus"),
    "wav": Sample("recording.wav", wav, "audio/wav"),
    "webm": Sample("recording.webm", webm, "audio/webm"),
    "flac": Sample("recording.flac", flac, "audio/flac"),
    "amr": Sample("voice-memo.amr", amr, "audio/amr"),
}
GOOD: tuple[str, ...] = tuple(_GOOD)  # every accepted extension, without the dot

_KINDS = {"photo": "jpg", "document": "pdf", "audio": "mp3", "voice": "ogg"}

_NASTY = {
    "exe": Sample("voice-memo.exe", exe, "application/x-msdownload"),
    "exe-as-jpg": Sample("photo.jpg", exe, "image/jpeg"),
    "pdf-as-mp3": Sample("voice-memo.mp3", pdf, "audio/mpeg"),
    "text-as-pdf": Sample("worksheet.pdf", lambda: b"Just some text, not a PDF at all.\n", "application/pdf"),
    "zip-as-docx": Sample("essay.docx", plain_zip, f"{_OOXML}.wordprocessingml.document"),
    "docx-as-xlsx": Sample("scores.xlsx", docx, f"{_OOXML}.spreadsheetml.sheet"),
    "empty": Sample("empty.pdf", lambda: b"", "application/pdf"),
    "random": Sample("random.jpg", random_bytes, "image/jpeg"),
}
# each bad sample -> str() of the Refusal that notes.uploads.check_upload raises for it
NASTY: dict[str, str] = {
    "exe": "voice-memo.exe: this file type is not accepted",
    "exe-as-jpg": "photo.jpg: the file's contents do not match its .jpg extension",
    "pdf-as-mp3": "voice-memo.mp3: the file's contents do not match its .mp3 extension",
    "text-as-pdf": "worksheet.pdf: the file's contents do not match its .pdf extension",
    "zip-as-docx": "essay.docx: the file's contents do not match its .docx extension",
    "docx-as-xlsx": "scores.xlsx: the file's contents do not match its .xlsx extension",
    "empty": "empty.pdf: the file is empty",
    "random": "random.jpg: the file's contents do not match its .jpg extension",
}


def _lookup(key: str) -> Sample:
    key = key.lower().lstrip(".")
    key = _KINDS.get(key, key)
    try:
        return _GOOD.get(key) or _NASTY[key]
    except KeyError:
        raise KeyError(f"no sample {key!r}: try one of {', '.join([*_GOOD, *_KINDS, *_NASTY])}") from None


def sample(key: str, *, name: str | None = None, size: int | None = None) -> tuple[str, bytes, str]:
    """(filename, content, content_type) for an extension ("jpg", ".JPG"), a kind ("photo",
    "document", "audio", "voice") or a bad sample (a key of NASTY). name replaces the filename;
    size pads the content with NUL bytes to exactly that many bytes."""
    item = _lookup(key)
    content = item.build()
    if size is not None:
        if size < len(content):
            raise ValueError(f"{key} needs at least {len(content)} bytes")
        content += b"\x00" * (size - len(content))
    return name or item.filename, content, item.content_type


def uploaded(key: str, **kwargs) -> SimpleUploadedFile:
    filename, content, content_type = sample(key, **kwargs)
    return SimpleUploadedFile(filename, content, content_type=content_type)


# --- multipart bodies --------------------------------------------------------------------------

BOUNDARY = "----notes-test-boundary-7MA4YWxkTrZu0gW"
MULTIPART_CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass(frozen=True)
class Padded:
    """File content that is `head` followed by NUL bytes up to `size`, produced chunk by chunk."""

    head: bytes
    size: int

    def chunks(self, chunk_size: int = 1024 * 1024):
        yield self.head
        left = self.size - len(self.head)
        block = b"\x00" * chunk_size
        while left > 0:
            yield block[: min(chunk_size, left)]
            left -= chunk_size


def padded(key: str, size: int) -> tuple[str, Padded, str]:
    """Like sample(key, size=size), but the content is produced in chunks (for bodies on disk)."""
    filename, head, content_type = sample(key)
    if size < len(head):
        raise ValueError(f"{key} needs at least {len(head)} bytes")
    return filename, Padded(head, size), content_type


def multipart_chunks(fields: dict | None = None, files=()):
    """The chunks of a multipart/form-data body (boundary BOUNDARY). files: (field, filename,
    content, content_type), as ("files", *sample("pdf")), with content bytes or Padded. The
    filename goes out plain when it is printable ASCII without quotes or backslashes, else as
    RFC 2231 filename*, so names with quotes, newlines or any unicode arrive as given."""
    for field, value in (fields or {}).items():
        for item in value if isinstance(value, list | tuple) else [value]:
            yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n'.encode()
                   + str(item).encode() + b"\r\n")
    for field, filename, content, content_type in files:
        if re.fullmatch(r"[ !#-\[\]-~]*", filename):  # printable ASCII but " and backslash
            disposition = f'filename="{filename}"'
        else:
            disposition = f"filename*=UTF-8''{quote(filename, safe='')}"
        yield (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; {disposition}\r\n'
               f"Content-Type: {content_type}\r\n\r\n").encode()
        if isinstance(content, Padded):
            yield from content.chunks()
        else:
            yield content
        yield b"\r\n"
    yield f"--{BOUNDARY}--\r\n".encode()


def multipart_body(fields: dict | None = None, files=()) -> bytes:
    return b"".join(multipart_chunks(fields, files))


def write_multipart(path, fields: dict | None = None, files=()) -> int:
    """Write a multipart body to path without holding it in memory; returns its length."""
    length = 0
    with open(path, "wb") as out:
        for chunk in multipart_chunks(fields, files):
            out.write(chunk)
            length += len(chunk)
    return length
