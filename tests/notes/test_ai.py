"""notes.ai against a fake OpenAI API on 127.0.0.1 (tests/fakes/openai_server.py), driven by the
real openai SDK: what is sent, what comes back, and which failures are worth retrying. Then the
local extractive summary used without a key."""

import io
import json
import socket

import openai
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from notes import ai
from tests.fakes.openai_server import CHAT, DEFAULT_SUMMARY, HANG, TRANSCRIPTIONS, Reply, error

NOTES = """Sam was engaged and focused for most of the hour.
He struggled with long division and was unsure about remainders. He often forgets to carry the one.
We drew fraction bars together. He should practise the seven times table.
Next week we will review remainders."""




def failure(call, *args) -> ai.AIError:
    with pytest.raises(ai.AIError) as caught:
        call(*args)
    return caught.value


# --- summary through OpenAI ---------------------------------------------------------------------

def test_summary_comes_back_validated_and_labelled(fake):
    result = ai.summarize(NOTES, ["He said fractions felt easier today.", "Mum asked about the test."])
    assert result == ai.SummaryResult(data=DEFAULT_SUMMARY, source="openai", model="gpt-4.1-mini")
    assert ai.Summary.model_validate(result.data).model_dump() == result.data  # the schema takes it unchanged


def test_summary_request_is_what_the_api_expects(fake):
    ai.summarize(NOTES, ["He said fractions felt easier today.", "Mum asked about the test."])
    [(path, headers, body)] = fake.requests
    assert path == CHAT and headers["authorization"] == "Bearer sk-test-fake"
    assert body["model"] == "gpt-4.1-mini"
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "session_summary", "strict": True, "schema": ai.summary_schema()}}
    schema = body["response_format"]["json_schema"]["schema"]
    assert schema["required"] == list(schema["properties"]) and schema["additionalProperties"] is False
    assert schema["properties"]["confidence_level"]["enum"] == list(ai.CONFIDENCE_LEVELS)
    system, user = body["messages"]
    assert system["role"] == "system" and "parents" in system["content"]
    assert "do not invent" in system["content"]
    assert user["role"] == "user" and NOTES in user["content"]
    assert "Voice memo transcript 1: He said fractions felt easier today." in user["content"]
    assert "Voice memo transcript 2: Mum asked about the test." in user["content"]


def test_settings_are_read_at_call_time(fake, settings):
    settings.OPENAI_SUMMARY_MODEL = "gpt-other"
    assert ai.summarize("Focused.", []).model == "gpt-other"
    assert fake.requests[-1].body["model"] == "gpt-other"


def test_a_wrong_key_is_not_retried(fake, settings):
    settings.OPENAI_API_KEY = "sk-wrong-key-0123456789"
    err = failure(ai.summarize, NOTES, [])
    assert not err.retryable and "401" in err.message and "Incorrect API key" in err.message
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-wrong-key-0123456789"


@pytest.mark.parametrize("status, retryable", [
    (500, True), (502, True), (503, True), (429, True), (409, True),
    (400, False), (403, False), (404, False), (422, False),
])
def test_status_errors_say_whether_to_retry(fake, status, retryable):
    fake.queue(CHAT, error(status, f"scripted {status}"))
    err = failure(ai.summarize, NOTES, [])
    assert err.retryable is retryable and f"scripted {status}" in err.message


def test_a_hanging_api_times_out_retryably_and_the_next_call_works(fake, settings):
    settings.OPENAI_TIMEOUT_SECONDS = 1
    fake.queue(CHAT, HANG)
    err = failure(ai.summarize, NOTES, [])
    assert err.retryable and "did not answer in 1s" in err.message
    fake.release()
    assert ai.summarize(NOTES, []).source == "openai"


def test_an_unreachable_api_is_retryable(fake, settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    assert failure(ai.summarize, NOTES, []).retryable


@pytest.mark.parametrize("content, says", [
    ("Here is your summary: engaged.", "not JSON"),
    ('{"engagement": "Engaged."', "not JSON"),
    ("", "not JSON"),
    (json.dumps({**DEFAULT_SUMMARY, "confidence_level": "great"}), "confidence_level"),
    (json.dumps({k: v for k, v in DEFAULT_SUMMARY.items() if k != "next_steps"}), "next_steps"),
    (json.dumps({**DEFAULT_SUMMARY, "mood": "happy"}), "mood"),
    (json.dumps({**DEFAULT_SUMMARY, "engagement": "   "}), "engagement"),
    (json.dumps({**DEFAULT_SUMMARY, "engagement": "x" * 1001}), "engagement"),
    (json.dumps({**DEFAULT_SUMMARY, "next_steps": ["Practise."] * 9}), "next_steps"),
    (json.dumps({**DEFAULT_SUMMARY, "learning_patterns": [""]}), "learning_patterns"),
    (json.dumps(["not", "an", "object"]), "schema"),
])
def test_an_answer_that_breaks_the_schema_is_retryable(fake, content, says):
    fake.summary = content
    err = failure(ai.summarize, NOTES, [])
    assert err.retryable and says in err.message


def test_a_refusal_is_retryable(fake):
    fake.queue(CHAT, Reply(json=fake.completion(refusal="I can't help with that.")))
    err = failure(ai.summarize, NOTES, [])
    assert err.retryable and "refused" in err.message and "I can't help with that." in err.message


@pytest.mark.parametrize("body", [{}, "hello", {"choices": []}, {"choices": [{}]},
                                  {"choices": [{"message": None}]}, {"choices": "x"}])
def test_a_malformed_completion_is_retryable(fake, body):
    """The SDK does not validate answers; nothing but AIError may come out."""
    fake.queue(CHAT, Reply(json=body))
    err = failure(ai.summarize, NOTES, [])
    assert err.retryable and "has no message" in err.message


# --- transcription -------------------------------------------------------------------------------

AUDIO = bytes(range(256)) * 8 + b"\r\n--boundary-lookalike\r\n"


def test_transcription_sends_the_file_and_model(fake):
    fake.transcript = "  Sam finished the worksheet.\n"
    assert ai.transcribe("memo.webm", io.BytesIO(AUDIO), "audio/webm") == "Sam finished the worksheet."
    [(path, headers, body)] = fake.requests
    assert path == TRANSCRIPTIONS and headers["authorization"] == "Bearer sk-test-fake"
    assert headers["content-type"].startswith("multipart/form-data")
    assert body["model"] == "gpt-4o-mini-transcribe"
    assert (body["file"].filename, body["file"].content_type, body["file"].data) == (
        "memo.webm", "audio/webm", AUDIO)


def test_transcription_takes_a_django_upload(fake):
    upload = SimpleUploadedFile("memo.m4a", AUDIO, content_type="audio/mp4")
    assert ai.transcribe(upload.name, upload, upload.content_type) == fake.transcript
    assert fake.requests[-1].body["file"] == ("memo.m4a", "audio/mp4", AUDIO)


@pytest.mark.parametrize("reply, retryable", [
    (error(500, "The server had an error while processing your request.", "server_error"), True),
    (error(429, "Rate limit reached.", "requests", code="rate_limit_exceeded"), True),
    (error(400, "Audio file might be corrupted or unsupported.", param="file", code="invalid_value"), False),
])
def test_transcription_errors(fake, reply, retryable):
    fake.queue(TRANSCRIPTIONS, reply)
    err = failure(ai.transcribe, "memo.webm", io.BytesIO(AUDIO), "audio/webm")
    assert err.retryable is retryable and reply.json["error"]["message"] in err.message


@pytest.mark.parametrize("body", [{}, "hello", {"text": None}])
def test_a_malformed_transcription_is_retryable(fake, body):
    fake.queue(TRANSCRIPTIONS, Reply(json=body))
    err = failure(ai.transcribe, "memo.webm", io.BytesIO(AUDIO), "audio/webm")
    assert err.retryable and "has no text" in err.message


def test_transcription_with_a_wrong_key_or_timeout(fake, settings):
    settings.OPENAI_TIMEOUT_SECONDS = 1
    fake.queue(TRANSCRIPTIONS, HANG)
    assert failure(ai.transcribe, "memo.webm", io.BytesIO(AUDIO), "audio/webm").retryable
    settings.OPENAI_API_KEY = "sk-wrong-key-0123456789"
    assert not failure(ai.transcribe, "memo.webm", io.BytesIO(AUDIO), "audio/webm").retryable


# --- without a key -------------------------------------------------------------------------------

def test_without_a_key_the_summary_is_local_and_nothing_is_sent(fake, settings):
    settings.OPENAI_API_KEY = ""
    assert not ai.ai_enabled()
    result = ai.summarize(NOTES, ["He said fractions felt easier today."])
    assert (result.source, result.model) == ("local", "local-extractive")
    assert result == ai.local_summary(NOTES, ["He said fractions felt easier today."])
    err = failure(ai.transcribe, "memo.webm", io.BytesIO(AUDIO), "audio/webm")
    assert not err.retryable and err.message == "transcription needs OPENAI_API_KEY"
    assert fake.requests == []


# --- the fake refuses what the API refuses -------------------------------------------------------

def test_the_fake_checks_requests_like_the_api(fake):
    raw_schema = ai.Summary.model_json_schema()  # has maxLength: strict mode refuses it
    with openai.OpenAI(api_key=fake.api_key, base_url=fake.base_url, max_retries=0, timeout=5) as client:
        with pytest.raises(openai.NotFoundError):
            client.models.list()
        with pytest.raises(openai.BadRequestError, match="'maxLength' is not permitted"):
            client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                           response_format={"type": "json_schema", "json_schema": {
                                               "name": "s", "strict": True, "schema": raw_schema}})
        with pytest.raises(openai.BadRequestError, match="empty array"):
            client.chat.completions.create(model="m", messages=[])
        with pytest.raises(openai.BadRequestError, match="'model'"):
            client.audio.transcriptions.create(model=openai.omit, file=("a.webm", AUDIO, "audio/webm"))
        with pytest.raises(openai.BadRequestError, match="Invalid file format"):
            client.audio.transcriptions.create(model="m", file=("a.webm", b"", "audio/webm"))


# --- the local summary ---------------------------------------------------------------------------

def test_local_summary_quotes_the_right_sentences():
    data = ai.local_summary(NOTES, ["He got distracted when his brother came in."]).data
    assert data == {
        "engagement": "Sam was engaged and focused for most of the hour. "
                      "He got distracted when his brother came in.",
        "confidence_level": "low",
        "confidence_notes": "He struggled with long division and was unsure about remainders.",
        "learning_patterns": ["He often forgets to carry the one."],
        "next_steps": ["He should practise the seven times table.", "Next week we will review remainders."],
    }
    assert ai.Summary.model_validate(data).model_dump() == data  # the schema takes it unchanged


def test_local_summary_is_deterministic():
    assert ai.local_summary(NOTES, ["Focused."]) == ai.local_summary(NOTES, ["Focused."])


@pytest.mark.parametrize("text, level", [
    ("She struggled with fractions and was unsure of herself.", "low"),
    ("She is not confident with decimals.", "low"),
    ("She struggled at first but became confident by the end.", "developing"),
    ("She was hesitant with negatives, unsure with decimals, but confident with fractions.", "developing"),
    ("She was confident with fractions.", "secure"),
    ("She is confident and has mastered long division.", "high"),
    ("We covered chapter four.", "developing"),
])
def test_local_confidence_level_follows_the_words(text, level):
    assert ai.local_summary(text).data["confidence_level"] == level


def test_local_summary_bullets_and_line_breaks_are_sentences():
    notes = "- Keeps mixing up sine and cosine\n* Homework: exercise 4b\n1. Very attentive"
    data = ai.local_summary(notes).data
    assert data["learning_patterns"] == ["Keeps mixing up sine and cosine"]
    assert data["next_steps"] == ["Homework: exercise 4b"]
    assert data["engagement"] == "Very attentive"


@pytest.mark.parametrize("text", ["", "   \n\t  ", "We covered chapter four."])
def test_local_summary_of_nothing_useful_is_never_empty(text):
    data = ai.local_summary(text, ["", "  "]).data
    assert data == {"engagement": ai.NOT_DESCRIBED, "confidence_level": "developing",
                    "confidence_notes": ai.NOT_DESCRIBED, "learning_patterns": [], "next_steps": []}


def test_local_summary_of_very_long_notes_stays_within_the_schema():
    sentence = "He was focused, confident, often careless, and should review algebra. "
    long_one = "He was engaged " + "and engaged " * 400 + "all hour."
    data = ai.local_summary(sentence * 3000 + long_one).data
    assert ai.Summary.model_validate(data).model_dump() == data  # the schema takes it unchanged
    assert len(data["engagement"]) <= ai.MAX_TEXT and len(data["confidence_notes"]) <= ai.MAX_TEXT
    assert len(data["learning_patterns"]) == len(data["next_steps"]) == ai.MAX_ITEMS
    assert data["engagement"].startswith(sentence.strip())
    clipped = ai.local_summary(long_one).data["engagement"]
    assert len(clipped) <= ai.MAX_TEXT and clipped.endswith("…") and long_one.startswith(clipped[:-1])


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(), st.lists(st.text(), max_size=3))
def test_local_summary_always_validates(text, transcripts):
    data = ai.local_summary(text, transcripts).data
    assert ai.Summary.model_validate(data).model_dump() == data  # the schema takes it unchanged
    assert data["engagement"].strip() and data["confidence_notes"].strip()
