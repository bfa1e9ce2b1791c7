"""The storage contract the notes feature relies on, proved against a real S3-compatible server
(SeaweedFS on loopback, tests/fakes/seaweedfs.py) with storages["notes"] configured as the R2 branch
of tutoring/settings.py configures it in production: files round-trip, nothing is public, a
presigned link serves the file under the name and type it asks for, and the server itself refuses
an expired or tampered link."""

import os
import re
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.utils.http import content_disposition_header

# straight to 127.0.0.1, whatever *_proxy variables the environment has
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
PDF = {"ResponseContentDisposition": 'attachment; filename="a b.pdf"',
       "ResponseContentType": "application/pdf"}


def fetch(url: str, method: str = "GET"):
    """(status, headers, body) of a plain HTTP request, as a browser following the link would make it."""
    try:
        with OPENER.open(urllib.request.Request(url, method=method), timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, error.read()


def error_code(body: bytes) -> str:
    """The <Code> of an S3 XML error."""
    match = re.search(rb"<Code>([^<]+)</Code>", body)
    return match.group(1).decode() if match else body[:200].decode(errors="replace")


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def with_param(url: str, param: str, value: str) -> str:
    """The URL with one query parameter's (already encoded) value replaced, every other byte kept."""
    changed, count = re.subn(rf"([?&]{re.escape(param)}=)[^&]*", lambda m: m.group(1) + value, url)
    assert count == 1, f"{param} is not in {url}"
    return changed


def unique(name: str) -> str:
    return f"tests/{uuid.uuid4().hex}/{name}"


@pytest.fixture
def stored(s3_storage):
    """A small text file saved through the storage; its name."""
    return s3_storage.save(unique("hello.txt"), ContentFile(b"hello from the notes bucket"))


def test_the_notes_storage_is_the_s3_bucket(s3_storage, s3_server):
    assert storages["notes"] is s3_storage
    assert type(s3_storage).__module__ == "storages.backends.s3"
    assert (s3_storage.bucket_name, s3_storage.endpoint_url) == (s3_server.bucket, s3_server.endpoint_url)
    assert s3_storage.file_overwrite is False and s3_storage.querystring_auth is True


def test_content_is_saved_and_read_back(s3_storage, s3_server):
    name = s3_storage.save(unique("memo.txt"), ContentFile("Sam: fractions ✓".encode()))

    assert s3_storage.exists(name)
    assert s3_storage.size(name) == len("Sam: fractions ✓".encode())
    with s3_storage.open(name, "rb") as stored_file:
        assert stored_file.read() == "Sam: fractions ✓".encode()
    # what is in the bucket, asked without the storage in between
    obj = s3_server.client().get_object(Bucket=s3_server.bucket, Key=name)
    assert obj["Body"].read() == "Sam: fractions ✓".encode()
    assert obj["ContentType"] == "text/plain"


def test_a_file_on_disk_is_saved_and_read_back(s3_storage, tmp_path):
    """A file over SeaweedFS's 4 MB chunk size, as one streamed PUT (under the 64 MB multipart threshold)."""
    content = os.urandom(5 * 1024 * 1024 + 7)
    path = tmp_path / "scan.pdf"
    path.write_bytes(content)

    with path.open("rb") as fh:
        name = s3_storage.save(unique("scan.pdf"), File(fh, name="scan.pdf"))

    assert s3_storage.size(name) == len(content)
    with s3_storage.open(name, "rb") as stored_file:
        assert stored_file.read() == content
    status, headers, body = fetch(s3_storage.url(name))
    assert (status, body == content, headers["Content-Type"]) == (200, True, "application/pdf")


def test_objects_are_private(s3_storage, s3_server, stored):
    object_url = f"{s3_server.endpoint_url}/{s3_server.bucket}/{stored}"

    status, _, body = fetch(object_url)
    assert (status, error_code(body)) == (403, "AccessDenied")
    status, _, body = fetch(object_url, method="HEAD")
    assert status == 403
    status, _, body = fetch(f"{s3_server.endpoint_url}/{s3_server.bucket}?list-type=2")  # listing
    assert (status, error_code(body)) == (403, "AccessDenied")
    # the same object through a signed link is served: it is the signature that is missing above
    assert fetch(s3_storage.url(stored))[0] == 200


def test_a_link_expires_after_notes_link_seconds_by_default(s3_storage, stored, settings):
    link = s3_storage.url(stored)

    assert query(link)["X-Amz-Expires"] == str(settings.NOTES_LINK_SECONDS)
    assert query(link)["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "/auto/s3/aws4_request" in query(link)["X-Amz-Credential"]


@pytest.mark.parametrize("disposition, content_type", [
    pytest.param(PDF["ResponseContentDisposition"], PDF["ResponseContentType"], id="ascii-attachment"),
    # what notes.storage.link asks for: Django's header for a non-ASCII name (RFC 5987 filename*)
    pytest.param(content_disposition_header(as_attachment=False, filename="Résumé de Sam.pdf"),
                 "application/pdf", id="utf8-inline"),
])
def test_a_presigned_link_serves_the_file_under_the_asked_name_and_type(s3_storage, stored, disposition,
                                                                        content_type):
    link = s3_storage.url(stored, parameters={"ResponseContentDisposition": disposition,
                                              "ResponseContentType": content_type}, expire=300)

    assert query(link)["X-Amz-Expires"] == "300"
    status, headers, body = fetch(link)
    assert status == 200
    assert body == b"hello from the notes bucket"
    # SeaweedFS honours both response-* overrides, as R2 and S3 do
    assert headers["Content-Disposition"] == disposition
    assert headers["Content-Type"] == content_type


def test_an_expired_link_is_refused(s3_storage, stored):
    """botocore signs with the current time, which time-machine moves: a 300 s link made ten minutes
    ago ran out five minutes ago; one made four minutes ago still works."""
    ten_minutes_ago = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    with time_machine.travel(ten_minutes_ago, tick=False):
        expired = s3_storage.url(stored, parameters=PDF, expire=300)
    with time_machine.travel(ten_minutes_ago + timedelta(minutes=6), tick=False):
        still_valid = s3_storage.url(stored, parameters=PDF, expire=300)

    assert query(expired)["X-Amz-Date"] == ten_minutes_ago.strftime("%Y%m%dT%H%M%SZ")
    status, _, body = fetch(expired)
    assert (status, error_code(body)) == (403, "AccessDenied")
    assert b"Request has expired" in body
    assert fetch(still_valid)[0] == 200


@pytest.fixture
def two_stored(s3_storage):
    """Two files side by side: a link for one must not open the other."""
    folder = f"tests/{uuid.uuid4().hex}"
    return (s3_storage.save(f"{folder}/mine.txt", ContentFile(b"mine")),
            s3_storage.save(f"{folder}/theirs.txt", ContentFile(b"their private notes")))


def flip_last_char(value: str) -> str:
    return value[:-1] + ("0" if value[-1] != "0" else "1")


TAMPERINGS = {
    "signature": lambda link, names: with_param(link, "X-Amz-Signature",
                                                flip_last_char(query(link)["X-Amz-Signature"])),
    "key": lambda link, names: link.replace(f"/{names[0]}?", f"/{names[1]}?"),
    "longer-expiry": lambda link, names: with_param(link, "X-Amz-Expires", "3600"),
    "disposition": lambda link, names: with_param(link, "response-content-disposition",
                                                  "attachment%3B%20filename%3D%22other.exe%22"),
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_tampered_link_is_refused(s3_storage, two_stored, tampering):
    link = s3_storage.url(two_stored[0], parameters=PDF, expire=300)
    status, _, body = fetch(link)
    assert (status, body) == (200, b"mine")

    tampered = TAMPERINGS[tampering](link, two_stored)

    assert tampered != link
    status, _, body = fetch(tampered)
    assert (status, error_code(body)) == (403, "SignatureDoesNotMatch")
    assert b"their private notes" not in body


def test_delete_removes_the_object(s3_storage, stored):
    link = s3_storage.url(stored)

    s3_storage.delete(stored)

    assert not s3_storage.exists(stored)
    status, _, body = fetch(link)
    assert (status, error_code(body)) == (404, "NoSuchKey")
    s3_storage.delete(stored)  # deleting what is gone is not an error
    assert not s3_storage.exists(stored)


def test_a_name_collision_gets_a_new_name_not_an_overwrite(s3_storage):
    wanted = unique("lesson.txt")
    first = s3_storage.save(wanted, ContentFile(b"first"))
    second = s3_storage.save(wanted, ContentFile(b"second"))

    assert first == wanted
    assert second != first
    assert second.startswith(wanted.removesuffix("lesson.txt") + "lesson_") and second.endswith(".txt")
    with s3_storage.open(first, "rb") as f1, s3_storage.open(second, "rb") as f2:
        assert (f1.read(), f2.read()) == (b"first", b"second")
