"""Texts that hold whatever their source may hold, subjects that fit without a broken word, and
absolute links from the one SITE_URL."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from hypothesis import given
from hypothesis import strategies as st

from notifications import kinds
from notifications.kinds import KINDS
from notifications.models import Delivery, DeliveryStatus, Notification
from notifications.texts import SUBJECT_MAX, fit, in_how_long, shorten
from sessions import lifecycle
from sessions.rules import MAX_TEXT
from tests.conftest import NOW

from .conftest import emails_to, inbox, sweep


@pytest.fixture(autouse=True)
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def words_of(text: str) -> set[str]:
    return set(re.findall(r"[\w']+", text))


def test_a_2000_character_dispute_reason_reaches_the_coordinator_whole(awaiting, parent, coordinator):
    """Once "value too long for type character varying(500)" failed the task eight times and the
    coordinator never heard of the dispute. The reason may be 2,000 characters: all of it arrives,
    in the app and by email, and the subject still fits."""
    reason = ("The tutor joined late and left early; " * 60)[:MAX_TEXT - 3].rstrip() + " ok"
    assert len(reason) <= MAX_TEXT
    lifecycle.dispute(awaiting, by=parent, reason=reason, now=NOW)
    sweep(NOW)
    assert not Delivery.objects.exclude(status=DeliveryStatus.SENT).exists()
    note = inbox(coordinator)[0]
    assert reason in note.text
    (email,) = emails_to(coordinator)
    assert reason in email.body and len(email.subject) <= SUBJECT_MAX


def test_the_inbox_quotes_a_long_text_shortened_on_a_word_boundary_with_all_of_it_a_click_away(
        client, awaiting, parent, coordinator):
    reason = "Unacceptable " * 150
    lifecycle.dispute(awaiting, by=parent, reason=reason.strip(), now=NOW)
    sweep(NOW)
    client.force_login(coordinator)
    body = client.get("/notifications/").content.decode()
    preview = re.search(r'<p class="notice__text">(.*?)</p>', body, re.S).group(1)
    assert preview.endswith("Unacceptable…") and len(preview) <= 300
    assert "Show all" in body and body.count("Unacceptable") > 150


@pytest.mark.parametrize("name", ["Maximilian-Alexander Wolfeschlegelsteinhausenbergerdorff the Third of Saxony",
                                  "Ana", "Zoë-Émilie d'Aubigné-Ferrand y Montenegro de la Cruz"])
def test_subjects_fit_and_never_break_a_word_whatever_the_names(make_session, tutor, student, parent, coordinator,
                                                                awaiting, reasons, name, package):
    """Every kind's subject, for every reader, fits in 78 characters and is made of whole words of
    the names and phrases it uses (once subjects read "…was accepte" and "…is aw")."""
    for person in (tutor, student, parent):
        person.name = name + " " + person.username
        person.save()
    s = make_session(start=NOW + timedelta(days=3))
    lifecycle.propose_reschedule(s, by=parent, proposed_start=NOW + timedelta(days=4),
                                 reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    lifecycle.resolve_dispute(awaiting, by=coordinator, decision="approve", reason="Fine.", now=NOW)
    make_session(start=NOW + timedelta(minutes=40))
    sweep(NOW)
    subjects = [m.subject for m in mail.outbox]
    assert len(subjects) >= 8
    # every word of a subject is a whole word: of the catalogue's own phrases, the readers' names,
    # or the full texts (dates); a word cut short is none of these
    vocabulary = words_of(Path(kinds.__file__).read_text())
    for n in Notification.objects.select_related("recipient"):
        vocabulary |= words_of(n.text)
    for subject in subjects:
        assert len(subject) <= SUBJECT_MAX, subject
        assert not subject.endswith(("…", "...")), subject
        assert words_of(subject) <= vocabulary, (subject, words_of(subject) - vocabulary)


@given(st.lists(st.text(alphabet="abcdefghij ", min_size=1, max_size=120), min_size=1, max_size=4))
def test_fit_takes_the_first_candidate_that_fits_and_never_cuts_one(candidates):
    chosen = fit(*candidates, "Short")
    assert len(chosen) <= SUBJECT_MAX
    assert chosen in [" ".join(c.split()) for c in candidates] + ["Short"]


@given(st.text(alphabet="abcdef ghi.,", min_size=0, max_size=400), st.integers(min_value=10, max_value=300))
def test_shorten_keeps_whole_words(text, limit):
    short = shorten(text, limit)
    assert len(short) <= limit
    flat = " ".join(text.split())
    if short == flat:
        return
    assert short.endswith("…")
    head = short[:-1]
    words = flat.split(" ")
    if len(words[0]) + 1 > limit:  # one word longer than the limit is the only thing ever cut
        return
    assert flat.startswith(head) and (flat[len(head):len(head) + 1] in (" ", ",", ".", "") or head == "")


@pytest.mark.parametrize(("minutes", "words"), [(24 * 60, "in 24 hours"), (23 * 60 + 59, "in 24 hours"),
                                                (60, "in 1 hour"), (59, "in 1 hour"), (75, "in 1 hour 15 minutes"),
                                                (15, "in 15 minutes"), (14, "in 14 minutes"), (0, "now")])
def test_how_long_until_the_start_reads_as_people_say_it(minutes, words):
    assert in_how_long(timedelta(minutes=minutes)) == words


def test_every_kind_belongs_to_a_topic_people_can_choose():
    from notifications.models import Topic

    assert {k.topic for k in KINDS.values()} <= set(Topic.values)


def test_links_in_email_are_built_from_site_url(awaiting, parent, coordinator, settings):
    """One configured site URL builds every absolute link (once they pointed at port 8000 whatever
    the port `make run` served on)."""
    settings.SITE_URL = "http://127.0.0.1:8014"
    lifecycle.dispute(awaiting, by=parent, reason="The tutor left early.", now=NOW)
    sweep(NOW)
    body = emails_to(coordinator)[0].body
    assert f"http://127.0.0.1:8014/admin/tutoring_sessions/session/{awaiting.id}/change/" in body
    assert "http://127.0.0.1:8014/notifications/preferences/" in body
    assert ":8000" not in body
