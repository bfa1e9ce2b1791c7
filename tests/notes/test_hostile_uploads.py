"""Issue 18 item 3 (uploads), end to end through the notes form: a lying extension, a polyglot,
huge and hostile filenames, zero bytes and 10 MB + 1 byte in one post. The note's text and the good
files are kept; each bad file gets a sentence naming it and what is wrong; a hostile name is shown
as text; what is stored is served so that no browser runs it."""

import html

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from notes.models import Attachment, Note
from tests.conftest import stored_files
from tests.notes.files import sample

MB = 1024 * 1024
# a GIF whose bytes are also an HTML page with a script (a GIFAR-style polyglot)
POLYGLOT = b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/<html><script>alert(document.domain)</script></html>"


def upload(key, name=None, size=None):
    filename, data, content_type = sample(key, name=name, size=size)
    return SimpleUploadedFile(filename, data, content_type=content_type)


@pytest.mark.django_db
def test_hostile_files_in_one_post_get_clear_messages_and_the_rest_is_kept(client, awaiting, tutor, parent,
                                                                        notes_storage):
    client.force_login(tutor)
    url = reverse("session-notes", args=[awaiting.id])
    response = client.post(url, {"text": "Fractions.", "files": [
        upload("exe-as-jpg"),  # a program named photo.jpg
        upload("empty"),  # zero bytes
        upload("pdf", name="big.pdf", size=10 * MB + 1),  # 10 MB + 1 byte
        SimpleUploadedFile("board.gif", POLYGLOT, content_type="image/gif"),
        upload("png", name="<img src=x onerror=alert(1)>.png"),
        upload("png", name="../../etc/passwd.png"),
        upload("png", name="a" * 5000 + ".png"),
    ]})
    assert response.status_code == 303
    page = client.get(url).content.decode()
    for said in ("Not attached: photo.jpg: the file's contents do not match its .jpg extension",
                 "Not attached: empty.pdf: the file is empty",
                 "Not attached: big.pdf: the file is larger than 10 MB"):
        assert said in html.unescape(page), said
    assert "Fractions." in page and Note.objects.count() == 1
    names = sorted(Attachment.objects.values_list("original_name", flat=True))
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;.png" in page
    assert "passwd.png" in names  # the path is gone, the name stays
    assert "a" * 196 + ".png" in names and "a" * 197 not in "".join(names)  # capped, extension kept
    stored = stored_files(notes_storage)
    assert len(stored) == len(names)
    assert not any(bad in path for path in stored for bad in ("onerror", "..", "passwd", "aaaa"))  # generated names

    # whatever was kept is served as what it is, never sniffed, never run
    client.force_login(parent)
    for item in Attachment.objects.all():
        link = client.get(reverse("notes-attachment", args=[item.id]) + "?inline=1")["Location"]
        served = client.get(link)
        assert served.status_code == 200
        assert served["Content-Type"].split(";")[0] in {"image/png", "image/gif"}
        assert served["X-Content-Type-Options"] == "nosniff"
        assert served["Content-Security-Policy"].startswith("sandbox")
