"""The AI behind session notes: a structured summary of a tutor's notes (and voice memo
transcripts) for parents and coordinators, and voice memo transcription.

With OPENAI_API_KEY set, summaries come from Chat Completions with a strict JSON schema and are
validated again here; transcripts come from the audio transcription endpoint. Without a key the
summary is `local_summary`: extractive, offline, deterministic and labelled "local", and there
is no transcription. Every failure is an AIError that says whether retrying can help; the SDK
never retries by itself (max_retries=0), Celery does. No openai exception leaves this module.
"""

import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

import openai
import pydantic
from django.conf import settings

# The four headings of a summary (confidence_notes goes with confidence_level).
SUMMARY_FIELDS = ("engagement", "confidence_level", "learning_patterns", "next_steps")
# The confidence scale, weakest first: "low" (struggling, unsure), "developing" (getting there
# with help; also the default when the notes say nothing), "secure" (manages alone),
# "high" (confident, mastered).
ConfidenceLevel = Literal["low", "developing", "secure", "high"]
CONFIDENCE_LEVELS = get_args(ConfidenceLevel)
MAX_TEXT = 1000
MAX_ITEM = 500
MAX_ITEMS = 8
NOT_DESCRIBED = "Not described in the notes."
LOCAL_MODEL = "local-extractive"

Text = Annotated[str, pydantic.StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)]
Item = Annotated[str, pydantic.StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ITEM)]


# A summary as stored and shown; the model's answer must validate as this. The docstring and
# field descriptions go to the model in the JSON schema.
class Summary(pydantic.BaseModel):
    """A tutoring session summary for the student's parents and coordinators."""

    model_config = pydantic.ConfigDict(extra="forbid")

    engagement: Text = pydantic.Field(description="How engaged and focused the student was.")
    confidence_level: ConfidenceLevel = pydantic.Field(
        description="low: struggling or unsure; developing: progressing with help; "
                    "secure: manages on their own; high: confident, has mastered the material.")
    confidence_notes: Text = pydantic.Field(description="What the notes say about the student's confidence.")
    learning_patterns: list[Item] = pydantic.Field(max_length=MAX_ITEMS, description=(
        "Recurring strengths, mistakes or habits observed; empty if none are described."))
    next_steps: list[Item] = pydantic.Field(max_length=MAX_ITEMS, description=(
        "Suggested next steps: practice, homework, topics to review; empty if none follow from the notes."))


@dataclass(frozen=True)
class SummaryResult:
    data: dict  # Summary.model_dump()
    source: str  # "openai" or "local"
    model: str  # the model OpenAI says answered (e.g. "gpt-4.1-mini-2025-04-14"), or LOCAL_MODEL


class AIError(Exception):
    """A failed AI call; `retryable` says whether trying again later can succeed."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


def ai_enabled() -> bool:
    return bool(settings.OPENAI_API_KEY)


def _client() -> openai.OpenAI:
    return openai.OpenAI(api_key=settings.OPENAI_API_KEY, base_url=settings.OPENAI_BASE_URL,
                         timeout=float(settings.OPENAI_TIMEOUT_SECONDS), max_retries=0)


def _strict(schema: dict) -> dict:
    """Summary's JSON schema as strict Structured Outputs accept it: no titles, and no string
    lengths (not supported there; Summary still checks them on the answer)."""
    if isinstance(schema, dict):
        return {k: _strict(v) for k, v in schema.items() if k not in ("title", "minLength", "maxLength")}
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def summary_schema() -> dict:
    schema = _strict(Summary.model_json_schema())
    schema["required"] = list(schema["properties"])  # strict mode: every field required
    return schema


SYSTEM_PROMPT = (
    "You summarize a tutor's notes on one tutoring session for the student's parents and the "
    "tutoring coordinators. Report the student's engagement, confidence level (low, developing, "
    "secure or high) with a short justification, learning patterns (recurring strengths, mistakes "
    "or habits) and suggested next steps. Use only what the notes and voice memo transcripts say: "
    "do not invent facts, names, scores or events. If something is not described, say so briefly "
    "(or leave the list empty). Write plainly and kindly, in the language of the notes."
)


def _prompt(notes_text: str, transcripts: Sequence[str]) -> str:
    parts = [f"Session notes:\n{notes_text.strip() or '(none)'}"]
    parts += [f"Voice memo transcript {n}: {t.strip()}" for n, t in enumerate(transcripts, 1)]
    return "\n\n".join(parts)


def _mapped(exc: openai.OpenAIError, what: str) -> AIError:
    """Timeouts, connection errors, 408/409/429 and 5xx can pass; a bad key (401), no permission
    (403), a bad request (400) or an unknown model (404) will not."""
    if isinstance(exc, openai.APITimeoutError):
        return AIError(f"{what}: OpenAI did not answer in {settings.OPENAI_TIMEOUT_SECONDS}s", retryable=True)
    if isinstance(exc, openai.APIConnectionError):
        return AIError(f"{what}: could not reach OpenAI ({exc.message})", retryable=True)
    if isinstance(exc, openai.APIStatusError):  # exc.message: "Error code: 429 - <OpenAI's message>"
        status = exc.status_code
        return AIError(f"{what}: {exc.message}", retryable=status in (408, 409, 429) or status >= 500)
    if isinstance(exc, openai.APIResponseValidationError):
        return AIError(f"{what}: OpenAI's answer was malformed ({exc.message})", retryable=True)
    return AIError(f"{what}: {exc}", retryable=False)


def summarize(notes_text: str, transcripts: Sequence[str] = ()) -> SummaryResult:
    """The summary of a session's notes and transcripts; local_summary when there is no key."""
    if not ai_enabled():
        return local_summary(notes_text, transcripts)
    model = settings.OPENAI_SUMMARY_MODEL
    try:
        with _client() as client:
            completion = client.chat.completions.create(
                model=model,
                messages=[{"role": "system", "content": SYSTEM_PROMPT},
                          {"role": "user", "content": _prompt(notes_text, transcripts)}],
                response_format={"type": "json_schema", "json_schema": {
                    "name": "session_summary", "strict": True, "schema": summary_schema()}},
            )
    except openai.OpenAIError as exc:
        raise _mapped(exc, "summary failed") from exc
    except Exception as exc:  # the SDK parsing a broken answer (JSONDecodeError, ...): worth a retry
        raise AIError(f"summary failed: {type(exc).__name__}: {exc}", retryable=True) from exc
    try:  # the SDK does not check the answer's shape; a proxy at OPENAI_BASE_URL may say anything
        message = completion.choices[0].message
        refusal, content = message.refusal, message.content
    except (AttributeError, IndexError, KeyError, TypeError):
        raise AIError("summary failed: OpenAI's answer has no message", retryable=True) from None
    if refusal:
        raise AIError(f"summary failed: the model refused ({refusal})", retryable=True)
    try:
        summary = Summary.model_validate(json.loads(content or ""))
    except json.JSONDecodeError as exc:
        raise AIError(f"summary failed: the answer is not JSON ({exc})", retryable=True) from exc
    except pydantic.ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'summary'}: {e['msg']}" for e in exc.errors())
        raise AIError(f"summary failed: the answer does not match the schema ({errors})",
                      retryable=True) from exc
    return SummaryResult(data=summary.model_dump(), source="openai",
                         model=getattr(completion, "model", None) or model)


def transcribe(filename: str, fileobj, content_type: str) -> str:
    """The text of a voice memo: bytes, or a binary file read from where it stands; needs a key."""
    if not ai_enabled():
        raise AIError("transcription needs OPENAI_API_KEY", retryable=False)
    content = fileobj if isinstance(fileobj, (bytes, io.IOBase)) else fileobj.read()
    try:
        with _client() as client:
            result = client.audio.transcriptions.create(model=settings.OPENAI_TRANSCRIBE_MODEL,
                                                        file=(filename, content, content_type))
    except openai.OpenAIError as exc:
        raise _mapped(exc, "transcription failed") from exc
    except Exception as exc:  # the SDK parsing a broken answer (JSONDecodeError, ...): worth a retry
        raise AIError(f"transcription failed: {type(exc).__name__}: {exc}", retryable=True) from exc
    text = getattr(result, "text", None)
    if not isinstance(text, str):
        raise AIError("transcription failed: OpenAI's answer has no text", retryable=True)
    return text.strip()


# --- the local, extractive summary --------------------------------------------------------------

# Word beginnings (regular expressions), matched case-insensitively at the start of a word.
ENGAGEMENT = (r"engag", r"focus", r"attentive", r"attention", r"distract", r"participat", r"interest",
              r"motivat", r"bored", r"enthusias", r"eager", r"curious", r"restless", r"(?:on|off)[- ]task")
CONFIDENCE = (r"confiden", r"unsure", r"hesitan", r"struggl", r"comfortable", r"master", r"nervous",
              r"anxious", r"doubt", r"insecure", r"self-assur", r"secure\b", r"fluent")
PATTERNS = (r"often", r"usually", r"tends?\b", r"repeatedly", r"again\b", r"mistake", r"error", r"pattern",
            r"keeps?\b", r"kept\b", r"always", r"consistently", r"habit", r"forg[eo]t",
            r"mix(?:es|ed|ing)? up", r"confuses")
NEXT_STEPS = (r"next\b", r"homework", r"practi[cs]", r"should", r"review", r"plan", r"will\b", r"goal",
              r"work on", r"recommend", r"suggest", r"revis")
LOW = (r"struggl", r"unsure", r"hesitan", r"nervous", r"anxious", r"doubt", r"insecure", r"confused",
       r"lost\b")
HIGH = (r"confiden", r"master(?:ed|y)", r"comfortable", r"secure\b", r"fluent", r"independently",
        r"self-assur")


def _family(stems: tuple[str, ...]) -> re.Pattern:
    return re.compile(r"\b(?:" + "|".join(stems) + ")", re.IGNORECASE)


_ENGAGEMENT, _CONFIDENCE, _PATTERNS, _NEXT = map(_family, (ENGAGEMENT, CONFIDENCE, PATTERNS, NEXT_STEPS))
_LOW, _HIGH = _family(LOW), _family(HIGH)
# "not confident", "isn't very comfortable", "lacks confidence": the word counts for the other side.
_NEGATED = re.compile(r"(?:\bnot|n't|\bnever|\bno|\black(?:s|ing|ed)?|\bwithout)\s+(?:\w+\s+)?$",
                      re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_BULLET = re.compile(r"^(?:[-*•·]+|\d+[.)])\s+")


def _sentences(text: str) -> list[str]:
    found = (_BULLET.sub("", s.strip()).strip() for s in _SENTENCE_END.split(text))
    return [s for s in found if s]


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _joined(sentences: list[str], limit: int = MAX_TEXT) -> str:
    """As many whole matched sentences as fit; the first one clipped if it alone is too long."""
    if not sentences:
        return NOT_DESCRIBED
    text = _clip(sentences[0], limit)
    for s in sentences[1:]:
        if len(text) + 1 + len(s) > limit:
            break
        text += " " + s
    return text


def _polarity(text: str) -> tuple[int, int]:
    """(low, high) word counts; a negated word counts for the other side ("not confident")."""
    counts = {"low": 0, "high": 0}
    for side, other, family in (("low", "high", _LOW), ("high", "low", _HIGH)):
        for m in family.finditer(text):
            negated = _NEGATED.search(text[max(0, m.start() - 30):m.start()])
            counts[other if negated else side] += 1
    return counts["low"], counts["high"]


def _level(low: int, high: int) -> str:
    if low > high:
        return "low" if high == 0 else "developing"
    if high > low:
        return "high" if low == 0 and high >= 2 else "secure"
    return "developing"


def local_summary(notes_text: str, transcripts: Sequence[str] = ()) -> SummaryResult:
    """Sentences quoted from the notes and transcripts, picked by keyword family; the confidence
    level follows from words like struggling/unsure (low) against confident/mastered (high)."""
    text = "\n".join([notes_text or "", *(t or "" for t in transcripts)])
    sentences = _sentences(text)

    def picked(family: re.Pattern) -> list[str]:
        return [s for s in sentences if family.search(s)]

    confidence = picked(_CONFIDENCE)
    summary = Summary(
        engagement=_joined(picked(_ENGAGEMENT)),
        confidence_level=_level(*_polarity(" ".join(confidence))),
        confidence_notes=_joined(confidence),
        learning_patterns=[_clip(s, MAX_ITEM) for s in picked(_PATTERNS)[:MAX_ITEMS]],
        next_steps=[_clip(s, MAX_ITEM) for s in picked(_NEXT)[:MAX_ITEMS]],
    )
    return SummaryResult(data=summary.model_dump(), source="local", model=LOCAL_MODEL)
