"""Webhook endpoints for the providers: no session, no CSRF (they are server-to-server); the
signature is the authentication (video/webhooks.py). Bodies are bounded by Django's
DATA_UPLOAD_MAX_MEMORY_SIZE."""

from django.http import HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import webhooks


def _reply(outcome: webhooks.Outcome) -> HttpResponse:
    return HttpResponse(outcome.text, status=outcome.status, content_type="text/plain")


@csrf_exempt
@require_POST
def plugnmeet_webhook(request):
    return _reply(webhooks.plugnmeet_delivery(request.body, request.headers, now=timezone.now()))


@csrf_exempt
@require_POST
def bbb_recording_ready(request):
    return _reply(webhooks.bbb_recording_ready(request.POST.get("signed_parameters", ""), now=timezone.now()))
