"""AI summaries and transcripts through the real openai client against the fake OpenAI server:
the summary task, its retries, its fallback, and what readers see meanwhile."""

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from notes import services, tasks
from notes.models import Attachment, Summary, SummaryStatus, TranscriptStatus
from tests.conftest import NOW
from tests.fakes.openai_server import (
    CHAT,
    DEFAULT_SUMMARY,
    DEFAULT_TRANSCRIPT,
    TRANSCRIPTIONS,
    Reply,
    error,
)
from tests.notes.files import sample


def memo(name="memo.m4a") -> SimpleUploadedFile:
    _, data, content_type = sample(".m4a")
    return SimpleUploadedFile(name, data, content_type=content_type)


def chat_requests(fake):
    return [r for r in fake.requests if r.path == CHAT]


@pytest.mark.django_db
def test_summary_and_transcript_from_openai(awaiting, tutor, fake, django_capture_on_commit_callbacks):
    """L23: a structured summary (engagement, confidence, patterns, next steps) from the notes and
    the voice memo's transcript, which is also kept beside the memo."""
    with django_capture_on_commit_callbacks(execute=True):
        services.add_notes(awaiting, by=tutor, text="Fractions today.", files=[memo()], now=NOW)
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.source, summary.attempts) == (SummaryStatus.READY, "openai", 1)
    assert summary.data == DEFAULT_SUMMARY
    attachment = Attachment.objects.get()
    assert (attachment.transcript, attachment.transcript_status) == (DEFAULT_TRANSCRIPT, TranscriptStatus.DONE)
    [transcription] = [r for r in fake.requests if r.path == TRANSCRIPTIONS]
    assert transcription.body["file"].filename == "memo.m4a"
    assert transcription.body["model"] == django_settings.OPENAI_TRANSCRIBE_MODEL
    [chat] = chat_requests(fake)
    prompt = json.dumps(chat.body["messages"])
    assert "Fractions today." in prompt and DEFAULT_TRANSCRIPT in prompt
    assert chat.body["response_format"]["type"] == "json_schema"


@pytest.mark.django_db
def test_a_failure_shows_retrying_and_the_summary_appears_on_success(client, awaiting, tutor, parent, fake):
    """Failures never lose notes: the reader sees "summary failed, retrying" until it succeeds."""
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", now=NOW)
    fake.queue(CHAT, error(500, "The server had an error while processing your request."))
    with pytest.raises(services.SummaryRetry):
        services.summarize(awaiting.id, 1)
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.attempts, summary.data) == (SummaryStatus.RETRYING, 1, None)
    assert "500" in summary.last_error
    client.force_login(parent)
    page = client.get(f"/sessions/{awaiting.id}/").content.decode()
    assert "Summary failed, retrying…" in page and "Sam was engaged." in page
    assert services.summarize(awaiting.id, 1) == SummaryStatus.READY
    page = client.get(f"/sessions/{awaiting.id}/").content.decode()
    assert DEFAULT_SUMMARY["engagement"] in page and "retrying" not in page


def deliver(session_id: int, version: int = 1):
    """Run the attempts a worker would make, each retry after its countdown (the countdowns are
    returned instead of waited for): tasks.attempt is the task's body."""
    countdowns = []
    for retries in range(tasks.MAX_RETRIES + 1):
        outcome = tasks.attempt(session_id, version, retries=retries)
        if not isinstance(outcome, tasks.TryAgain):
            return outcome, countdowns
        countdowns.append(outcome.countdown)
    raise AssertionError("the task asked for more retries than MAX_RETRIES")


@pytest.mark.django_db
def test_run_eagerly_a_failure_is_final_at_once(awaiting, tutor, fake, django_capture_on_commit_callbacks):
    """Without a worker (eager), a retry cannot wait: the labelled extract is shown at once."""
    fake.queue(CHAT, error(503, "Slow down"))
    with django_capture_on_commit_callbacks(execute=True):
        services.add_notes(awaiting, by=tutor, text="Sam was engaged.", now=NOW)
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.source, summary.attempts) == (SummaryStatus.FAILED, "local", 1)


@pytest.mark.django_db
def test_the_task_retries_with_backoff_then_succeeds(awaiting, tutor, fake):
    fake.queue(CHAT, error(503, "Slow down"), error(429, "Rate limit reached", "requests"))
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", now=NOW)
    assert deliver(awaiting.id) == (SummaryStatus.READY, [30, 60])
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.source, summary.attempts, summary.last_error) == (
        SummaryStatus.READY, "openai", 3, "")
    assert len(chat_requests(fake)) == 3


@pytest.mark.django_db
def test_out_of_retries_the_note_keeps_a_labelled_local_extract(client, awaiting, tutor, parent, fake):
    fake.queue(CHAT, *[error(500, "Internal error")] * (tasks.MAX_RETRIES + 1))
    services.add_notes(awaiting, by=tutor, text="Sam was engaged. Next we review fractions.", now=NOW)
    assert deliver(awaiting.id) == (SummaryStatus.FAILED, [30, 60, 120, 240, 480, 600])
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.source) == (SummaryStatus.FAILED, "local")
    assert summary.data["engagement"] == "Sam was engaged."
    assert len(chat_requests(fake)) == tasks.MAX_RETRIES + 1
    client.force_login(parent)
    page = client.get(f"/sessions/{awaiting.id}/").content.decode()
    assert "AI summary unavailable: sentences taken from the notes are shown instead." in page
    assert "Next we review fractions." in page


@pytest.mark.django_db
def test_a_wrong_key_is_not_retried(awaiting, tutor, fake, settings, django_capture_on_commit_callbacks):
    settings.OPENAI_API_KEY = "sk-wrong"
    with django_capture_on_commit_callbacks(execute=True):
        services.add_notes(awaiting, by=tutor, text="Sam was engaged.", files=[memo()], now=NOW)
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.source, summary.attempts) == (SummaryStatus.FAILED, "local", 1)
    assert "401" in summary.last_error
    assert Attachment.objects.get().transcript_status == TranscriptStatus.FAILED
    assert len(fake.requests) == 2  # one transcription, one summary: no retries


@pytest.mark.django_db
def test_a_transcription_outage_retries_the_whole_task(awaiting, tutor, fake):
    fake.queue(TRANSCRIPTIONS, error(502, "Bad gateway"))
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", files=[memo()], now=NOW)
    assert deliver(awaiting.id) == (SummaryStatus.READY, [30])
    assert Attachment.objects.get().transcript_status == TranscriptStatus.DONE
    assert len([r for r in fake.requests if r.path == TRANSCRIPTIONS]) == 2


def test_the_backoff_is_capped_below_the_brokers_visibility_timeout():
    """A countdown beyond the visibility timeout would make Redis hand the task out twice."""
    countdowns = [min(tasks.RETRY_BACKOFF * 2 ** n, tasks.RETRY_BACKOFF_MAX) for n in range(tasks.MAX_RETRIES)]
    assert countdowns == [30, 60, 120, 240, 480, 600]
    assert max(countdowns) < django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


@pytest.mark.celery_worker
def test_a_real_worker_summarizes_after_commit_once_per_version(worker, awaiting, tutor):
    """Enqueued on commit; a second delivery of the same version changes nothing."""
    services.add_notes(awaiting, by=tutor, text="Sam was engaged and confident.", now=NOW)
    # the worker takes tasks in order: the on-commit one first, then this duplicate
    assert tasks.summarize_notes.apply_async([awaiting.id, 1], ignore_result=False).get(timeout=60) == "already"
    summary = Summary.objects.get(session=awaiting)
    assert (summary.status, summary.source, summary.attempts, summary.summarized_version) == (
        SummaryStatus.READY, "local", 1, 1)


@pytest.mark.django_db
def test_a_summary_whose_task_was_lost_is_requeued(awaiting, tutor, time_machine):
    """The broker was down at commit (the notes are saved regardless): beat's sweep enqueues the
    pending summary once it has made no progress for 15 minutes."""
    time_machine.move_to(NOW, tick=False)
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", now=NOW)  # its task never ran
    time_machine.move_to(NOW + timedelta(minutes=14), tick=False)
    assert tasks.requeue_stalled_summaries.apply().get() == 0
    time_machine.move_to(NOW + timedelta(minutes=16), tick=False)
    assert tasks.requeue_stalled_summaries.apply().get() == 1  # run eagerly here: summarized at once
    assert Summary.objects.get(session=awaiting).status == SummaryStatus.READY
    assert tasks.requeue_stalled_summaries.apply().get() == 0


@pytest.mark.django_db
def test_after_the_last_retry_a_memo_is_not_left_pending(awaiting, tutor, fake):
    fake.queue(TRANSCRIPTIONS, *[error(500, "Internal error")] * (tasks.MAX_RETRIES + 1))
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", files=[memo()], now=NOW)
    assert deliver(awaiting.id)[0] == SummaryStatus.FAILED
    assert Attachment.objects.get().transcript_status == TranscriptStatus.FAILED


@pytest.mark.django_db
def test_an_answer_that_is_not_json_is_retried(awaiting, tutor, fake):
    fake.queue(CHAT, Reply(json="{not json"))
    services.add_notes(awaiting, by=tutor, text="Sam was engaged.", now=NOW)
    assert deliver(awaiting.id) == (SummaryStatus.READY, [30])


def test_the_services_publish_the_summary_task_by_its_registered_name():
    """services.py names the task (tasks.py imports services.py, not the other way: issue 13 item 3)."""
    assert services.SUMMARIZE_TASK == tasks.summarize_notes.name
