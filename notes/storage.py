"""Where attachments live and how a reader gets one: never a public URL, always a link that
expires within NOTES_LINK_SECONDS (5 minutes at most).

On R2 (or any S3-compatible store) the link is an S3 presigned URL that carries the download
name and type. With local storage the link is a signed token for `signed_file`, which checks the
signature and its age the same way the object store would, and answers 403 to a tampered or
expired link.
"""

from django.conf import settings
from django.core import signing
from django.core.files.storage import storages
from django.urls import reverse
from django.utils.http import content_disposition_header

SALT = "notes.attachment-link"


def attachment_storage():
    return storages["notes"]


def is_object_store(storage) -> bool:
    return hasattr(storage, "bucket_name")


def save(name: str, fileobj) -> str:
    """Store an upload under its generated name; returns the name actually used."""
    fileobj.seek(0)
    return attachment_storage().save(name, fileobj)


def delete_quietly(names) -> None:
    """Remove files whose database rows were never committed (a failed submission)."""
    storage = attachment_storage()
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # noqa: BLE001 - best effort: an orphan file is harmless, a lost note is not
            pass


def link(attachment, *, inline: bool) -> str:
    """A short-lived URL that serves an attachment under its original name."""
    return signed_link(attachment.storage_name, filename=attachment.original_name,
                       content_type=attachment.content_type, inline=inline)


def signed_link(name: str, *, filename: str, content_type: str, inline: bool) -> str:
    """A URL for a stored object that expires within NOTES_LINK_SECONDS (attachments, recordings)."""
    disposition = content_disposition_header(as_attachment=not inline, filename=filename)
    storage = attachment_storage()
    if is_object_store(storage):
        return storage.url(name, parameters={"ResponseContentDisposition": disposition,
                                             "ResponseContentType": content_type},
                           expire=settings.NOTES_LINK_SECONDS)
    token = signing.dumps({"n": name, "d": disposition, "t": content_type}, salt=SALT, compress=True)
    return reverse("notes-file", args=[token])


def open_signed(token: str):
    """(file, content_type, disposition) for a valid local link, else signing.BadSignature
    (signing.SignatureExpired for an old one)."""
    payload = signing.loads(token, salt=SALT, max_age=settings.NOTES_LINK_SECONDS)
    return attachment_storage().open(payload["n"], "rb"), payload["t"], payload["d"]
