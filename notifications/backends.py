"""Django email backends: Resend's HTTP API through the `resend` SDK, and a development backend
that keeps every email in the database for the outbox page.

Both set `provider_id` on each message they sent; the Resend backend sets `send_error` (an
outcomes.SendError) on each one it did not, and raises outcomes.SendFailed unless fail_silently.
"""

from __future__ import annotations

import base64
import hashlib
import logging

import resend
from django.core.mail.backends.base import BaseEmailBackend
from resend.exceptions import ResendError
from resend.http_client_requests import RequestsClient

from .models import KeptEmail
from .outcomes import SendError, SendFailed

log = logging.getLogger(__name__)

BATCH_MAX = 100  # Resend's batch endpoint takes up to 100 emails per request


def _html(message) -> str:
    for alternative in getattr(message, "alternatives", ()) or ():
        content, mimetype = alternative[0], alternative[1]
        if mimetype == "text/html":
            return content
    return message.body if message.content_subtype == "html" else ""


def _text(message) -> str:
    return "" if message.content_subtype == "html" else message.body


def classify(exc: ResendError) -> SendError:
    """Resend's errors (https://resend.com/docs/api-reference/errors): rate limits, server errors
    and network failures (the SDK reports those as 500 HttpClientError) are worth another try;
    everything else (a bad address, a bad key, a refused field) is not."""
    try:
        code = int(exc.code)
    except (TypeError, ValueError):
        code = 500
    text = f"Resend {code} {exc.error_type}: {exc.message}"
    if code == 429:
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        try:
            after = float(headers.get("retry-after", "1"))
        except ValueError:
            after = 1.0
        return SendError(text, transient=True, retry_after=after)
    if code >= 500 or code == 409 and exc.error_type == "concurrent_idempotent_requests":
        return SendError(text, transient=True)
    return SendError(text, transient=False, taken=code == 409 and exc.error_type == "invalid_idempotent_request")


class ResendBackend(BaseEmailBackend):
    """Sends through Resend: one request per message, or Resend's batch endpoint (up to 100 per
    request, permissive validation so one bad address does not hold back the others) when several
    go at once. Every message carries an Idempotency-Key (its own, or the batch's made from its
    members'), so a request repeated after a timeout is not delivered twice. Notifications go
    through send_request with a batch they formed and kept (notifications.email)."""

    reports_each_message = True  # see notifications.email

    def __init__(self, *, api_key: str, api_url: str = "https://api.resend.com", timeout: int = 10, **kwargs):
        super().__init__(**kwargs)
        self.api_key, self.api_url, self.timeout = api_key, api_url.rstrip("/"), timeout
        self.fail_silently = self._fail_silently

    def _configure(self) -> None:
        # the SDK reads module-level settings; every process uses the one configured account
        resend.api_key = self.api_key
        resend.api_url = self.api_url
        if getattr(resend.default_http_client, "_timeout", None) != self.timeout:
            resend.default_http_client = RequestsClient(timeout=self.timeout)

    @staticmethod
    def params(message) -> dict:
        params = {
            "from": message.from_email,
            "to": list(message.to),
            "subject": message.subject,
        }
        if text := _text(message):
            params["text"] = text
        if html := _html(message):
            params["html"] = html
        for field in ("cc", "bcc", "reply_to"):
            if getattr(message, field, None):
                params[field] = list(getattr(message, field))
        if message.extra_headers:
            params["headers"] = {str(k): str(v) for k, v in message.extra_headers.items()}
        if message.attachments:
            params["attachments"] = [_attachment(a) for a in message.attachments]
        return params

    def send_messages(self, email_messages) -> int:
        messages = list(email_messages)
        if not messages:
            return 0
        self._configure()
        batchable = [m for m in messages if not m.attachments]
        singles = [m for m in messages if m.attachments]
        for start in range(0, len(batchable), BATCH_MAX):
            chunk = batchable[start:start + BATCH_MAX]
            if len(chunk) == 1:
                singles.append(chunk[0])
            else:
                self._send_batch(chunk)
        for message in singles:
            self._send_one(message)
        failed = [m for m in messages if getattr(m, "send_error", None) is not None]
        if failed and not self.fail_silently:
            raise SendFailed(f"{len(failed)} of {len(messages)} emails were not sent: {failed[0].send_error}")
        return len(messages) - len(failed)

    def _send_one(self, message) -> None:
        key = getattr(message, "idempotency_key", "")
        self._answer([message], self.send_request([self.params(message)], key))

    def _send_batch(self, chunk: list) -> None:
        keys = [getattr(m, "idempotency_key", "") for m in chunk]
        key = "batch-" + hashlib.sha256("\n".join(keys).encode()).hexdigest()[:48] if all(keys) else ""
        self._answer(chunk, self.send_request([self.params(m) for m in chunk], key))

    @staticmethod
    def _answer(messages: list, results: list) -> None:
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, SendError):
                message.send_error = result
            else:
                message.provider_id = result

    def send_request(self, emails: list[dict], key: str = "") -> list[str | SendError]:
        """One request to Resend with these emails (params() of each, up to 100; one goes to
        /emails, several to /emails/batch with permissive validation) under this Idempotency-Key:
        each email's id, or the SendError it met. notifications.email keeps the emails and the key
        of each request it makes and repeats exactly that request on a retry, so Resend answers
        its first answer again instead of sending twice."""
        self._configure()
        options: dict = {"idempotency_key": key} if key else {}
        try:
            if len(emails) == 1:
                return [resend.Emails.send(emails[0], options or None)["id"]]
            response = resend.Batch.send(emails, {**options, "batch_validation": "permissive"})
        except ResendError as exc:
            return [classify(exc)] * len(emails)
        refused = {item["index"]: item.get("message", "refused") for item in response.get("errors") or ()}
        ids = iter(item["id"] for item in response.get("data") or ())
        return [SendError(f"Resend refused it: {refused[index]}", transient=False) if index in refused
                else next(ids, "") for index in range(len(emails))]


def _attachment(attachment) -> dict:
    filename, content = attachment[0], attachment[1]
    if isinstance(content, str):
        content = content.encode()
    return {"filename": filename or "attachment", "content": base64.b64encode(content).decode()}


class KeepLocallyBackend(BaseEmailBackend):
    """Development without RESEND_API_KEY: every email is stored (notifications.KeptEmail) and
    shown at /dev/outbox/, so the demo shows what each person received."""

    def send_messages(self, email_messages) -> int:
        count = 0
        for message in email_messages:
            message.message()  # the same header checks as a real send
            kept = KeptEmail.objects.create(
                to=list(message.to) + list(message.cc) + list(message.bcc), from_email=message.from_email,
                subject=message.subject, text=_text(message), html=_html(message),
                headers={str(k): str(v) for k, v in message.extra_headers.items()})
            message.provider_id = f"kept-{kept.id}"
            count += 1
        return count
