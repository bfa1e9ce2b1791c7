"""Resend's delivery webhooks, signed by Svix: `svix-id`, `svix-timestamp` and `svix-signature`
(space-separated "v1,<base64 HMAC-SHA256>" of "<id>.<timestamp>.<raw body>" under the base64 key
after "whsec_"), checked by the resend SDK (timestamps more than 5 minutes off are refused).

A permanent bounce, a complaint or a provider suppression stops email to that address for good
(until its owner turns it back on) and tells the owner in the app; the delivery it concerns is
marked failed with the reason, where coordinators see it. Each svix-id is handled once: Svix sends
a message again until it gets a 2xx.
"""

from __future__ import annotations

import json
import logging

import resend
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from tutoring.models import User

from .models import Delivery, DeliveryStatus, SuppressedAddress, SuppressionReason, WebhookReceipt
from .outbox import notify

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


def verify(body: bytes, headers) -> dict | None:
    """The event if the signature is good, else None."""
    try:
        payload = body.decode()
        event = resend.Webhooks.verify({
            "payload": payload,
            "headers": {"id": headers.get("svix-id", ""), "timestamp": headers.get("svix-timestamp", ""),
                        "signature": headers.get("svix-signature", "")},
            "webhook_secret": settings.RESEND_WEBHOOK_SECRET,
        })
    except (ValueError, UnicodeDecodeError, TypeError):
        return None
    return event if isinstance(event, dict) else None


@csrf_exempt  # signed by Resend instead
@require_POST
def resend_webhook(request):
    if not settings.RESEND_WEBHOOK_SECRET:
        return JsonResponse({"detail": "Webhooks are not configured."}, status=404)
    if len(request.body) > MAX_BODY:
        return JsonResponse({"detail": "Too large."}, status=413)
    event = verify(request.body, request.headers)
    if event is None:
        return JsonResponse({"detail": "Invalid signature."}, status=400)
    kind, data = event.get("type"), event.get("data")
    if not isinstance(kind, str) or not isinstance(data, dict):
        return JsonResponse({"detail": "Not a Resend event."}, status=400)
    try:
        with transaction.atomic():
            WebhookReceipt.objects.create(message_id=request.headers["svix-id"][:100], type=kind[:60],
                                          received_at=timezone.now())
            handle(kind, data)
    except IntegrityError:
        pass  # seen before: nothing to do again
    return HttpResponse(status=204)


def _reason(kind: str, data: dict) -> tuple[str, str] | None:
    """(suppression reason, words for people) if this event stops email to its addresses."""
    if kind == "email.bounced":
        bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
        if str(bounce.get("type", "")).lower() != "permanent":
            return None  # a temporary bounce: the provider retries
        detail = str(bounce.get("message") or bounce.get("subType") or "it bounced")
        return SuppressionReason.BOUNCE, f"it bounced: {detail}"
    if kind == "email.complained":
        return SuppressionReason.COMPLAINT, "it was marked as spam"
    if kind == "email.suppressed":
        suppressed = data.get("suppressed") if isinstance(data.get("suppressed"), dict) else {}
        return SuppressionReason.SUPPRESSED, f"the email provider refused it: {suppressed.get('message') or 'suppressed'}"
    return None


def handle(kind: str, data: dict) -> None:
    email_id = str(data.get("email_id", ""))[:100]
    addresses = [str(a).strip() for a in data.get("to") or () if isinstance(a, str)]
    now = timezone.now()
    if kind == "email.failed" and email_id:
        failed = data.get("failed") if isinstance(data.get("failed"), dict) else {}
        Delivery.objects.filter(provider_id=email_id).update(
            status=DeliveryStatus.FAILED, last_error=f"Resend could not send it: {failed.get('reason', 'failed')}",
            updated_at=now)
        return
    stop = _reason(kind, data)
    if stop is None:
        return
    reason, words = stop
    if email_id:
        Delivery.objects.filter(provider_id=email_id).update(
            status=DeliveryStatus.FAILED, last_error=f"Delivered to no one: {words}", updated_at=now)
    for address in addresses:
        if SuppressedAddress.objects.filter(email__iexact=address).exists():
            continue
        suppression = SuppressedAddress.objects.create(email=address.lower(), reason=reason,
                                                       detail=json.dumps(data)[:4000], created_at=now)
        owners = list(User.objects.filter(email__iexact=address, is_active=True))
        notify(owners, kind="email_stopped", source=f"suppressed:{suppression.id}", now=now,
               data={"address": address, "reason": words})
        log.warning("email to %s stopped: %s", address, words)
