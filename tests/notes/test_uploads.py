"""notes.uploads: the allow-list checked by content and extension, the size and count limits
enforced while the request streams, display-safe names and generated storage names.

Nothing here needs the database. The request-path tests build real multipart bodies and let
Django's own parser feed them to the configured upload handler."""

import hashlib
import io
import json
import os
import re
import tracemalloc
import zipfile

import pytest
from django.conf import settings as django_settings
from django.core.files.base import File
from django.core.files.uploadedfile import SimpleUploadedFile, TemporaryUploadedFile, UploadedFile
from django.core.handlers.wsgi import WSGIRequest
from django.http import JsonResponse
from django.test import Client, override_settings
from django.urls import path
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt

from notes import uploads
from notes.uploads import (
    ALLOWED,
    CheckedUpload,
    Kind,
    LimitedUploadHandler,
    Refusal,
    RejectedUpload,
    check_upload,
    check_uploads,
    display_name,
    storage_name,
)
from tests.notes import files
from tests.notes.files import MULTIPART_CONTENT_TYPE, NASTY, Padded, sample, uploaded

MB = 1024 * 1024
KB = 1024

# What each accepted extension's sample is served as.
SERVED_AS = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp",
    "heic": "image/heic", "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text", "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation", "txt": "text/plain", "csv": "text/csv",
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "ogg": "audio/ogg", "oga": "audio/ogg",
    "opus": "audio/ogg", "wav": "audio/x-wav", "webm": "audio/webm", "flac": "audio/x-flac",
    "amr": "audio/amr",
}
KINDS = {
    Kind.PHOTO: {"jpg", "jpeg", "png", "gif", "webp", "heic"},
    Kind.DOCUMENT: {"pdf", "docx", "xlsx", "pptx", "odt", "ods", "odp", "txt", "csv"},
    Kind.AUDIO: {"mp3", "m4a", "aac", "ogg", "oga", "opus", "wav", "webm", "flac", "amr"},
}


def refusal_of(f) -> str:
    with pytest.raises(Refusal) as caught:
        check_upload(f)
    return str(caught.value)


@pytest.fixture
def upload_dir(settings, tmp_path):
    """Temporary upload files go to a folder of the test's own, so we can see what is left there."""
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


def request_from(stream, length: int) -> WSGIRequest:
    """A POST request whose body is read from `stream`, as a WSGI server would hand it over."""
    return WSGIRequest({
        "REQUEST_METHOD": "POST", "PATH_INFO": "/notes/", "SCRIPT_NAME": "", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http", "wsgi.input": stream,
        "CONTENT_TYPE": MULTIPART_CONTENT_TYPE, "CONTENT_LENGTH": str(length),
    })


def post(fields=None, file_parts=()) -> WSGIRequest:
    body = files.multipart_body(fields, [("files", *part) for part in file_parts])
    return request_from(io.BytesIO(body), len(body))


def close_all(request) -> None:
    for f in request.FILES.getlist("files"):
        f.close()


# --- the allow-list ---------------------------------------------------------------------------


def test_allow_list_is_exactly_the_three_kinds():
    assert {ext: kind for ext, (kind, _) in ALLOWED.items()} == {
        f".{ext}": kind for kind, exts in KINDS.items() for ext in exts}
    assert set(files.GOOD) == {ext.lstrip(".") for ext in ALLOWED}
    assert all(ext == ext.lower() and ext.startswith(".") for ext in ALLOWED)


def test_the_site_streams_every_upload_through_the_limited_handler(rf):
    assert django_settings.FILE_UPLOAD_HANDLERS == ["notes.uploads.LimitedUploadHandler"]
    assert [type(h) for h in rf.post("/").upload_handlers] == [LimitedUploadHandler]


@pytest.mark.parametrize("ext", files.GOOD)
def test_every_allowed_type_is_accepted(ext):
    filename, content, content_type = sample(ext)
    f = SimpleUploadedFile(filename, content, content_type=content_type)
    checked = check_upload(f)
    assert checked == CheckedUpload(file=f, original_name=filename, extension=f".{ext}",
                                    kind=next(k for k, exts in KINDS.items() if ext in exts),
                                    content_type=SERVED_AS[ext], size=len(content),
                                    sha256=hashlib.sha256(content).hexdigest())
    assert f.tell() == 0


@pytest.mark.parametrize("ext", files.GOOD)
def test_the_claimed_content_type_does_not_matter(ext):
    filename, content, _ = sample(ext)
    checked = check_upload(SimpleUploadedFile(filename, content, content_type="application/x-msdownload"))
    assert checked.content_type == SERVED_AS[ext]


def test_extensions_are_case_insensitive():
    checked = check_upload(uploaded("jpg", name="HOLIDAY.JPG"))
    assert (checked.extension, checked.original_name, checked.kind) == (".jpg", "HOLIDAY.JPG", Kind.PHOTO)
    assert check_upload(uploaded("docx", name="Essay.DocX")).extension == ".docx"
    assert refusal_of(uploaded("exe", name="PHOTO.JPG")) == \
        "PHOTO.JPG: the file's contents do not match its .JPG extension"


@pytest.mark.parametrize("key", list(NASTY))
def test_every_bad_sample_is_refused_with_its_reason(key):
    assert refusal_of(uploaded(key)) == NASTY[key]


@pytest.mark.parametrize("name", ["voice-memo.exe", "photo", "photo.", ".jpg", "page.html", "logo.svg",
                                  "archive.zip", "macro.docm", "old.doc", "clip.mp4", "photo.jpg.exe"])
def test_other_extensions_are_not_accepted(name):
    f = uploaded("jpg", name=name)
    assert refusal_of(f) == f"{display_name(f.name)}: this file type is not accepted"


def test_the_text_of_every_reason(settings):
    assert NASTY["exe"] == "voice-memo.exe: this file type is not accepted"
    assert refusal_of(uploaded("pdf", name="scan.jpg")) == \
        "scan.jpg: the file's contents do not match its .jpg extension"
    assert refusal_of(SimpleUploadedFile("blank.txt", b"")) == "blank.txt: the file is empty"
    assert uploads.too_large_reason() == "the file is larger than 10 MB"
    assert uploads.too_many_reason() == "too many files: at most 20 per note"
    settings.NOTES_MAX_UPLOAD_BYTES = 64 * KB
    settings.NOTES_MAX_FILES = 3
    assert refusal_of(uploaded("pdf", size=64 * KB + 1)) == "worksheet.pdf: the file is larger than 64 KB"
    assert uploads.too_many_reason() == "too many files: at most 3 per note"
    settings.NOTES_MAX_UPLOAD_BYTES = 25 * MB // 2
    assert uploads.too_large_reason() == "the file is larger than 12.5 MB"
    assert uploads.max_upload_mb() == 12.5
    settings.NOTES_MAX_UPLOAD_BYTES = 10 * MB
    assert uploads.max_upload_mb() == 10


def test_a_refusal_names_the_file_and_the_reason():
    refusal = Refusal("voice-memo.exe", "this file type is not accepted")
    assert str(refusal) == "voice-memo.exe: this file type is not accepted"
    assert (refusal.filename, refusal.reason) == ("voice-memo.exe", "this file type is not accepted")
    assert isinstance(refusal, Exception)


@pytest.mark.parametrize(("first", "renamed"), [
    ("docx", "essay.xlsx"), ("xlsx", "scores.pptx"), ("pptx", "slides.docx"), ("odt", "essay.docx"),
    ("docx", "essay.odt"), ("ods", "scores.odp"), ("jpg", "photo.png"), ("png", "photo.jpg"),
    ("ogg", "voice.mp3"), ("mp3", "voice.ogg"), ("webm", "voice.m4a"), ("wav", "photo.webp"),
    ("pdf", "essay.docx"), ("docx", "worksheet.pdf"), ("pdf", "notes.txt"), ("exe", "notes.txt"),
    ("exe", "memo.amr"), ("random", "memo.webm"),
])
def test_content_must_match_the_extension_even_within_a_kind(first, renamed):
    ext = os.path.splitext(renamed)[1]
    assert refusal_of(uploaded(first, name=renamed)) == \
        f"{renamed}: the file's contents do not match its {ext} extension"


def test_office_documents_are_judged_by_their_zip_directory():
    # a zip whose first entry is not one filetype expects is still a docx by its [Content_Types].xml
    name, content, _ = sample("docx")
    reordered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(reordered, "w") as target:
        for item in reversed(source.infolist()):
            target.writestr(item, source.read(item))
    assert check_upload(SimpleUploadedFile(name, reordered.getvalue())).content_type == SERVED_AS["docx"]
    # a truncated or corrupt zip is refused, not an error
    assert refusal_of(SimpleUploadedFile("essay.docx", content[: len(content) // 2])) == NASTY["zip-as-docx"]
    # an ODF zip that declares another type
    odt = sample("odt")[1].replace(b"opendocument.text", b"opendocument.texx")
    assert refusal_of(SimpleUploadedFile("essay.odt", odt)).endswith("do not match its .odt extension")


@pytest.mark.parametrize("limit", [{"NOTES_ZIP_MAX_ENTRIES": 2}, {"NOTES_ZIP_MAX_DIRECTORY_BYTES": 100}])
def test_a_zip_with_a_huge_directory_is_not_listed(monkeypatch, limit):
    assert check_upload(uploaded("docx")).kind == Kind.DOCUMENT
    f = uploaded("docx")
    listed = []
    # the standard library's zipfile, spied on: the refusal comes from the end record alone
    monkeypatch.setattr(zipfile, "ZipFile", lambda *args, **kwargs: listed.append(args))
    with override_settings(**limit):
        assert refusal_of(f) == NASTY["zip-as-docx"]
    assert listed == []  # never listed


def test_a_zip64_document_is_refused(monkeypatch):
    content = sample("docx")[1]
    end = content.rfind(b"PK\x05\x06")
    locator = b"PK\x06\x07" + b"\x00" * 16
    f = SimpleUploadedFile("essay.docx", content[:end] + locator + content[end:])
    listed = []
    monkeypatch.setattr(zipfile, "ZipFile", lambda *args, **kwargs: listed.append(args))  # stdlib spy
    assert refusal_of(f) == NASTY["zip-as-docx"]
    assert listed == []


def test_text_files_must_be_utf8_without_nul_bytes():
    assert check_upload(SimpleUploadedFile("notes.txt", "Сэм ✓\n".encode())).content_type == "text/plain"
    bom = b"\xef\xbb\xbf"
    assert check_upload(SimpleUploadedFile("data.csv", bom + b"name,score\n")).content_type == "text/csv"
    # text that happens to start like a GIF is still text
    assert check_upload(SimpleUploadedFile("gifts.txt", b"GIFT ideas\n")).kind == Kind.DOCUMENT
    # a multi-byte character cut by the 64 KB head is fine
    text = ("a" * (64 * KB - 1) + "я" + "b" * 10).encode()
    assert check_upload(SimpleUploadedFile("long.txt", text)).size == len(text)
    for bad in ["Sch\xf6n\n".encode("latin-1"), "hi".encode("utf-16"), b"text\x00more", b"\xff\xfe\xfd"]:
        assert refusal_of(SimpleUploadedFile("notes.txt", bad)) == \
            "notes.txt: the file's contents do not match its .txt extension"
    # ... and an "almost text" file cut in the middle of a character at its very end is not
    cut = "ab".encode() + "я".encode()[:1]
    assert refusal_of(SimpleUploadedFile("x.csv", cut)).endswith(".csv extension")


def test_audio_containers_named_as_video_are_served_as_audio():
    # an Android-style m4a (isom brand) is what filetype calls video/mp4
    ftyp = b"ftypisom\x00\x00\x02\x00isomiso2mp41"
    android = (len(ftyp) + 4).to_bytes(4, "big") + ftyp + b"\x00\x00\x00\x08mdat"
    checked = check_upload(SimpleUploadedFile("memo.m4a", android))
    assert (checked.kind, checked.content_type) == (Kind.AUDIO, "audio/mp4")
    assert check_upload(uploaded("webm")).content_type == "audio/webm"


def test_less_common_headers_filetype_misses():
    heix = (24).to_bytes(4, "big") + b"ftypheix\x00\x00\x00\x00mif1heix"
    assert check_upload(SimpleUploadedFile("p.heic", heix)).content_type == "image/heic"
    avif = (24).to_bytes(4, "big") + b"ftypavif\x00\x00\x00\x00mif1avif"
    assert refusal_of(SimpleUploadedFile("p.heic", avif)).endswith(".heic extension")
    mpeg25 = b"\xff\xe3\x18\xc4" + b"\x00" * 200  # MPEG 2.5 layer III, no ID3 tag
    assert check_upload(SimpleUploadedFile("m.mp3", mpeg25)).content_type == "audio/mpeg"
    adts_with_crc = b"\xff\xf0\x50\x80\x02\x3f\xfc" + b"\x00" * 20
    assert check_upload(SimpleUploadedFile("m.aac", adts_with_crc)).content_type == "audio/aac"
    amr_wb = b"#!AMR-WB\n" + b"\x00" * 40
    assert check_upload(SimpleUploadedFile("m.amr", amr_wb)).content_type == "audio/amr-wb"


def test_sha256_is_computed_in_chunks_without_reading_the_whole_file():
    content = sample("pdf", size=300 * KB)[1]
    reads = []

    class Spy(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    f = File(Spy(content), name="worksheet.pdf")
    checked = check_upload(f)
    assert checked.sha256 == hashlib.sha256(content).hexdigest()
    assert checked.size == len(content) and f.tell() == 0
    assert reads and all(size is not None and 0 < size <= 64 * KB for size in reads)


def test_a_file_whose_size_lies_is_still_limited(settings):
    settings.NOTES_MAX_UPLOAD_BYTES = 4 * KB
    f = uploaded("pdf", size=8 * KB)
    f.size = 100  # claims to be small
    assert refusal_of(f) == "worksheet.pdf: the file is larger than 4 KB"


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "shown"), [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("..\\..\\Windows\\system32\\evil.pdf", "evil.pdf"),
    ("/abs/path/scan.pdf", "scan.pdf"),
    ("line\nbreak\r\nname.pdf", "line break name.pdf"),
    ("tab\tand\x00nul\x07bell.pdf", "tab andnulbell.pdf"),
    ("photo\u202egpj.exe", "photogpj.exe"),  # no right-to-left override to disguise the extension
    ('say "hi" \'there\'.pdf', 'say "hi" \'there\'.pdf'),
    ("Сэм — домашка №3.pdf", "Сэм — домашка №3.pdf"),
    ("cafe\u0301.pdf", "café.pdf"),  # NFC
    ("  spaced   out .pdf  ", "spaced out .pdf"),
    ("", "unnamed"),
    ("\n\r\x00", "unnamed"),
])
def test_display_names_are_safe(raw, shown):
    assert display_name(raw) == shown


def test_long_names_are_capped_keeping_the_extension():
    shown = display_name("a" * 1000 + ".pdf")
    assert shown == "a" * 196 + ".pdf"
    assert len(display_name("b" * 1000)) == 200
    assert len(display_name("ü" * 150 + "." + "x" * 100)) == 200


@pytest.mark.parametrize("raw", ["../../etc/passwd.pdf", "evil\r\nSet-Cookie: a=b.pdf", 'q"uote\\s.pdf',
                                 "ü" * 1000 + ".pdf", "x" * 1000 + ".pdf", "\u202eevil.pdf"])
def test_original_name_is_display_metadata_fit_for_a_header(raw):
    # a file object that keeps its raw name (as a bot download or a custom caller might)
    checked = check_upload(File(io.BytesIO(sample("pdf")[1]), name=raw))
    name = checked.original_name
    assert "/" not in name and "\\" not in name and len(name) <= 200 and name.endswith(".pdf")
    assert not any(ord(c) < 32 or ord(c) == 127 or c in "\u202e\u2028\u2029" for c in name)
    header = content_disposition_header(as_attachment=True, filename=name)
    assert "\r" not in header and "\n" not in header
    storage = storage_name(7, checked.extension)
    assert name not in storage and "passwd" not in storage and "evil" not in storage


def test_hostile_names_through_the_multipart_parser(upload_dir):
    raw_names = ["../../etc/passwd.pdf", "a\nb\r\nc.pdf", 'say "hi".pdf', "Сэм домашка.pdf",
                 "x" * 800 + ".pdf"]
    request = post({"text": "hi"}, [(name, sample("pdf")[1], "application/pdf") for name in raw_names])
    checked, refusals = check_uploads(request.FILES.getlist("files"))
    assert refusals == []
    assert [c.original_name for c in checked] == ["passwd.pdf", "abc.pdf", 'say "hi".pdf', "Сэм домашка.pdf",
                                                  "x" * 196 + ".pdf"]
    close_all(request)


# --- storage names ----------------------------------------------------------------------------


def test_storage_names_are_generated_and_unique():
    names = {storage_name(42, ".pdf") for _ in range(2000)}
    assert len(names) == 2000
    assert all(re.fullmatch(r"notes/42/[0-9a-f]{32}\.pdf", name) for name in names)
    assert re.fullmatch(r"notes/7/[0-9a-f]{32}\.jpg", storage_name(7, ".JPG"))
    checked = check_upload(uploaded("jpg", name="my-secret-photo.jpg"))
    assert "my-secret-photo" not in storage_name(7, checked.extension)


@pytest.mark.parametrize("bad", ["/../../x", ".exe", "", "pdf", ".pdf/../../x"])
def test_storage_name_takes_only_an_accepted_extension(bad):
    with pytest.raises(ValueError):
        storage_name(1, bad)


# --- check_uploads ----------------------------------------------------------------------------


def test_check_uploads_keeps_the_good_ones_and_reports_the_rest_in_order():
    rejected = RejectedUpload("huge.pdf", 11 * MB, "the file is larger than 10 MB")
    given = [uploaded("exe"), uploaded("jpg"), rejected, uploaded("ogg"), uploaded("empty"), uploaded("pdf")]
    checked, refusals = check_uploads(given)
    assert [c.original_name for c in checked] == ["photo.jpg", "voice-note.ogg", "worksheet.pdf"]
    assert [c.file for c in checked] == [given[1], given[3], given[5]]
    assert [str(r) for r in refusals] == ["voice-memo.exe: this file type is not accepted",
                                          "huge.pdf: the file is larger than 10 MB",
                                          "empty.pdf: the file is empty"]
    assert check_uploads([]) == ([], [])


def test_a_rejected_upload_passes_for_an_uploaded_file():
    rejected = RejectedUpload("huge.pdf", 11 * MB, "the file is larger than 10 MB", field_name="files",
                              content_type="application/pdf")
    assert isinstance(rejected, UploadedFile)  # what django-ninja's File[UploadedFile] insists on
    assert bool(rejected)
    assert (rejected.name, rejected.size, rejected.content_type, rejected.charset) == ("huge.pdf", 11 * MB,
                                                                                      "application/pdf", None)
    assert rejected.read() == b"" and list(rejected.chunks()) == [] and rejected.tell() == 0
    rejected.close()
    assert str(rejected.refusal) == "huge.pdf: the file is larger than 10 MB"
    with pytest.raises(Refusal) as caught:
        check_upload(rejected)
    assert caught.value.reason == "the file is larger than 10 MB"


# --- the upload handler, through the real multipart parser -------------------------------------


def test_small_uploads_also_go_to_disk(upload_dir):
    request = post({"text": "hello"}, [sample("jpg"), sample("pdf")])
    got = request.FILES.getlist("files")
    assert [type(f) for f in got] == [TemporaryUploadedFile, TemporaryUploadedFile]
    assert all(os.path.dirname(f.temporary_file_path()) == str(upload_dir) for f in got)
    assert [f.read() for f in got] == [sample("jpg")[1], sample("pdf")[1]]
    close_all(request)
    assert list(upload_dir.iterdir()) == []


@pytest.mark.parametrize("limit", [100 * KB, 64 * KB * 2, 64 * KB * 2 + 1, 200])
def test_a_file_over_the_limit_is_refused_while_streaming_and_the_rest_survives(settings, upload_dir, limit):
    settings.NOTES_MAX_UPLOAD_BYTES = limit  # the chunks are 64 KB: below, at and across a chunk
    big = sample("pdf", size=max(limit + 1, 600), name="big.pdf")
    request = post({"text": "Sam did well"}, [sample("gif"), big, sample("ogg")])
    assert request.POST["text"] == "Sam did well"
    got = request.FILES.getlist("files")
    assert [f.name for f in got] == ["animation.gif", "big.pdf", "voice-note.ogg"]
    rejected = got[1]
    assert isinstance(rejected, RejectedUpload)
    assert rejected.size == len(big[1]) and rejected.content_type == big[2]
    assert str(rejected.refusal) == f"big.pdf: the file is larger than {uploads.size_text(limit)}"
    # only the two good files have temporary files
    assert sorted(p.name for p in upload_dir.iterdir()) == sorted(
        os.path.basename(f.temporary_file_path()) for f in (got[0], got[2]))
    checked, refusals = check_uploads(got)
    assert [c.original_name for c in checked] == ["animation.gif", "voice-note.ogg"]
    assert [str(r) for r in refusals] == [str(rejected.refusal)]
    close_all(request)
    assert list(upload_dir.iterdir()) == []


def test_a_file_exactly_at_the_limit_is_accepted(settings, upload_dir):
    settings.NOTES_MAX_UPLOAD_BYTES = 200 * KB
    request = post({}, [sample("pdf", size=200 * KB), sample("jpg", size=200 * KB + 1)])
    exact, over = request.FILES.getlist("files")
    checked = check_upload(exact)
    assert checked.size == 200 * KB and os.path.getsize(exact.temporary_file_path()) == 200 * KB
    assert checked.sha256 == hashlib.sha256(sample("pdf", size=200 * KB)[1]).hexdigest()
    assert isinstance(over, RejectedUpload) and over.reason == "the file is larger than 200 KB"
    close_all(request)


def test_the_real_limit_streams_from_disk_without_holding_files_in_memory(upload_dir, tmp_path):
    """10 MB exactly is kept, 11 MB is refused; a 21 MB body parses in well under 2 MB of memory."""
    assert django_settings.NOTES_MAX_UPLOAD_BYTES == 10 * MB
    body = tmp_path / "body.multipart"
    length = files.write_multipart(body, {"text": "Great session"}, [
        ("files", *files.padded("pdf", 10 * MB)),
        ("files", *files.padded("jpg", 11 * MB)),
        ("files", *sample("png")),
    ])
    assert length > 21 * MB
    with open(body, "rb") as stream:
        request = request_from(stream, length)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            got = request.FILES.getlist("files")
            text = request.POST["text"]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 2 * MB, f"parsing used {peak / MB:.1f} MB"
    assert text == "Great session"
    pdf, jpg, png = got
    assert isinstance(pdf, TemporaryUploadedFile) and pdf.size == 10 * MB
    assert isinstance(jpg, RejectedUpload) and jpg.size == 11 * MB
    assert str(jpg.refusal) == "photo.jpg: the file is larger than 10 MB"
    assert sorted(p.name for p in upload_dir.iterdir()) == sorted(
        os.path.basename(f.temporary_file_path()) for f in (pdf, png))
    expected = hashlib.sha256()
    for chunk in Padded(sample("pdf")[1], 10 * MB).chunks():
        expected.update(chunk)
    checked, refusals = check_uploads(got)
    assert [(c.original_name, c.size) for c in checked] == [("worksheet.pdf", 10 * MB),
                                                            ("diagram.png", len(sample("png")[1]))]
    assert checked[0].sha256 == expected.hexdigest()
    assert [str(r) for r in refusals] == ["photo.jpg: the file is larger than 10 MB"]
    close_all(request)
    assert list(upload_dir.iterdir()) == []


def test_too_many_files_are_refused_without_temporary_files(upload_dir):
    assert django_settings.NOTES_MAX_FILES == 20
    request = post({"text": "lots"}, [sample("png", name=f"p{i}.png") for i in range(22)])
    got = request.FILES.getlist("files")
    assert len(got) == 22 and request.POST["text"] == "lots"
    assert all(isinstance(f, TemporaryUploadedFile) for f in got[:20])
    assert [str(f.refusal) for f in got[20:]] == ["p20.png: too many files: at most 20 per note",
                                                  "p21.png: too many files: at most 20 per note"]
    assert len(list(upload_dir.iterdir())) == 20
    checked, refusals = check_uploads(got)
    assert len(checked) == 20 and [r.reason for r in refusals] == ["too many files: at most 20 per note"] * 2
    close_all(request)
    assert list(upload_dir.iterdir()) == []


def test_the_file_count_is_per_request(settings, upload_dir):
    settings.NOTES_MAX_FILES = 2
    for _ in range(2):
        request = post({}, [sample("jpg"), sample("pdf"), sample("ogg")])
        got = request.FILES.getlist("files")
        assert [type(f) for f in got] == [TemporaryUploadedFile, TemporaryUploadedFile, RejectedUpload]
        assert str(got[2].refusal) == "voice-note.ogg: too many files: at most 2 per note"
        close_all(request)


def test_an_interrupted_upload_leaves_no_temporary_file(settings, upload_dir):
    settings.NOTES_MAX_UPLOAD_BYTES = 64 * KB
    for last in [sample("pdf", size=32 * KB), sample("pdf", size=200 * KB)]:
        body = files.multipart_body({"text": "cut"}, [("files", *sample("jpg")), ("files", *last)])
        cut = body[: len(body) - 16 * KB]  # the client went away in the middle of the last file
        request = request_from(io.BytesIO(cut), len(cut))
        got = request.FILES.getlist("files")
        assert [f.name for f in got] == ["photo.jpg"]
        close_all(request)
        assert list(upload_dir.iterdir()) == []


# --- a note's text and good files survive, end to end through the test client ------------------


@csrf_exempt
def echo_upload(request):
    checked, refusals = check_uploads(request.FILES.getlist("files"))
    return JsonResponse({"text": request.POST.get("text"), "saved": [[c.original_name, c.kind, c.content_type]
                                                                     for c in checked],
                         "refused": [str(r) for r in refusals]})


urlpatterns = [path("upload/", echo_upload)]


@pytest.mark.urls(__name__)
def test_a_note_with_bad_attachments_keeps_its_text_and_good_files(settings, upload_dir):
    settings.NOTES_MAX_UPLOAD_BYTES = 256 * KB
    response = Client().post("/upload/", {"text": "Fractions: Sam got 8/10", "files": [
        uploaded("jpg"), uploaded("exe"), uploaded("pdf", name="big.pdf", size=300 * KB), uploaded("webm"),
        uploaded("text-as-pdf"),
    ]})
    assert response.status_code == 200
    assert json.loads(response.content) == {
        "text": "Fractions: Sam got 8/10",
        "saved": [["photo.jpg", "photo", "image/jpeg"], ["recording.webm", "audio", "audio/webm"]],
        "refused": ["voice-memo.exe: this file type is not accepted",
                    "big.pdf: the file is larger than 256 KB",
                    "worksheet.pdf: the file's contents do not match its .pdf extension"],
    }
    assert list(upload_dir.iterdir()) == []  # the request closed (and so removed) its temporary files
