"""Issue 18 item 3 (hostile input over the JSON API): schemathesis generates requests from the
OpenAPI document the site serves (/api/openapi.json) for every operation and sends each one as
every role (parent, tutor, student, creator, coordinator), an outsider and an anonymous caller,
through the real WSGI application on the real PostgreSQL test database. No answer is a 5xx, every
answer conforms to its documented status, content type and schema (an action's 409 carries the
session: ConflictOut), and input that breaks the schema is refused as input (400 unreadable, 413,
422) before any state check: never a 2xx or a 409, and never the 403 or 404 of who may act, which
come only for well-formed input (so the 404 of a session one may not see still hides it).

Runtime is bounded: a few derandomized examples per operation (seeded, no example database)."""

import json
from datetime import timedelta

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (content_type_conformance, negative_data_rejection,
                                               response_schema_conformance, status_code_conformance)

from sessions import lifecycle
from notes.models import Note
from sessions.models import SessionEvent, Status
from tests.conftest import NOW
from tutoring.models import Guardianship, Match

POSITIVE_EXAMPLES = 4
NEGATIVE_EXAMPLES = 3
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
CSRF = "f" * 32  # any 32-character token: the header and the cookie must only agree


# input that breaks the schema is refused as input (400, 413, 422), never accepted nor answered by
# the state (409), nor by who asks (403, or 404 for a session the caller may not see): the input
# is checked first, whoever sends it
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": ["400", "413", "422"]}}})


def _schema():
    """The document the site serves, loaded through the same WSGI app the requests go to."""
    app = get_wsgi_application()
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app, config=CONFIG)


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return _schema()


def _operations():
    import django

    django.setup()
    from tutoring.api import api

    document = api.get_openapi_schema()
    return [(method.upper(), path) for path, ops in document["paths"].items() for method in ops]


OPERATIONS = _operations()


@pytest.fixture
def one_connection():
    """The WSGI handler closes the database connection at the end of every request, which would end
    the test's transaction; Django's own test client turns this off the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, time_machine, parent, student, tutor, creator, course, coordinator, outsider, reasons, policies,
          package, make_session):
    """The cast, sessions in several states (one of another family), an open reschedule thread and
    a match: the ids the generated requests are pointed at, beside random ones."""
    time_machine.move_to(NOW, tick=False)
    scheduled = make_session()
    awaiting = make_session(start=NOW - timedelta(days=1), status=Status.AWAITING_APPROVAL_PARENT,
                            checked_in_at=NOW - timedelta(days=1), checked_out_at=NOW - timedelta(hours=23))
    now_on = make_session(start=NOW - timedelta(minutes=5))
    thread_on = make_session(start=NOW + timedelta(days=4))
    proposal = lifecycle.propose_reschedule(thread_on, by=parent, proposed_start=NOW + timedelta(days=5),
                                            reason_id=reasons[("parent", "reschedule")].id, now=NOW)
    kid = Guardianship.objects.get(parent=outsider).student
    foreign = make_session(tutor=outsider, student=kid, course=None)
    Match.objects.create(tutor=outsider, student=kid)
    principals = {"anonymous": None}
    for user in (parent, tutor, student, creator, coordinator, outsider):
        principals[user.username] = user
    return {
        "session_id": [scheduled.id, awaiting.id, now_on.id, thread_on.id, foreign.id],
        "proposal_id": [proposal.id],
        "match_id": list(Match.objects.values_list("id", flat=True)),
        "principals": principals,
    }


def _credentials(user) -> tuple[dict, dict]:
    """Cookies and headers for a signed-in user (a real Django session), or none."""
    if user is None:
        return {}, {}
    client = Client()
    client.force_login(user)
    return ({"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF},
            {"X-CSRFToken": CSRF})


def _send_as_everyone(case, principals, credentials, checks=CHECKS):
    responses = {}
    for name in principals:
        cookies, headers = credentials[name]
        response = case.call(cookies=cookies, headers=headers)
        case.validate_response(response, checks=checks, headers=headers)
        responses[name] = response
    return responses


def _pointed(data, case, world):
    """Most path ids point at real objects (theirs or another family's), some stay random."""
    for name in list(case.path_parameters or {}):
        if name in world:
            case.path_parameters[name] = data.draw(st.sampled_from([*world[name], case.path_parameters[name]]))
    return case


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_every_operation_as_everyone_answers_within_its_schema(schema, one_connection, world, method, path):
    """Every generated request, as each role, an outsider and anonymous: no 5xx, no response
    outside the document (status, content type, body schema)."""
    operation = schema[path][method]
    credentials = {name: _credentials(user) for name, user in world["principals"].items()}

    @settings(max_examples=POSITIVE_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        case = _pointed(data, data.draw(operation.as_strategy()), world)
        responses = _send_as_everyone(case, world["principals"], credentials)
        assert responses["anonymous"].status_code == 401, responses["anonymous"].text

    run()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_malformed_input_is_a_422_before_any_state_check(schema, one_connection, world, method, path):
    """Input that breaks the schema (in the query or the body), sent by a signed-in caller for a
    real object, is a 422 naming the field: never a 404, 409 or a change of state first."""
    operation = schema[path][method]
    credentials = {name: _credentials(user) for name, user in world["principals"].items()
                   if name != "anonymous"}
    principals = {name: user for name, user in world["principals"].items() if name != "anonymous"}

    @settings(max_examples=NEGATIVE_EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data):
        # the sign-in cookie is each caller's own (sent below), never what is broken
        strategy = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE,
                                         cookies={"sessionid": "set-per-caller"})
        case = _pointed(data, data.draw(strategy), world)
        # schemathesis's own check, with the statuses of CONFIG: it knows when a negation is still
        # valid once sent (1 for "1", an extra property the schema allows); a failed check raises
        checks = [*CHECKS, negative_data_rejection]
        sent.append(_send_as_everyone(case, principals, credentials, checks=checks))

    sent = []
    try:
        run()
    except Exception as exc:  # an operation with nothing to negate (no parameters, no body) is fine
        if "Unsatisfiable" in type(exc).__name__ or "cannot be negated" in str(exc).lower():
            assert not (operation.path_parameters or operation.query or operation.body), \
                f"{method} {path} has input, yet nothing of it was negated: {exc}"
            return
        raise
    assert sent, f"{method} {path}: no malformed request was sent"


# --- what the fuzzing found, each pinned ------------------------------------------------------


def test_every_api_schema_has_a_name_of_its_own():
    """The OpenAPI document keys each schema by its class name: two classes of one name (desk's
    and the session actions' ConflictOut) made every action's 409 document the desk's conflict."""
    from ninja import Schema

    modules: dict[str, set[str]] = {}

    def walk(cls):
        for sub in cls.__subclasses__():
            if not sub.__module__.startswith(("ninja", "pydantic")):
                modules.setdefault(sub.__name__, set()).add(sub.__module__)
            walk(sub)

    walk(Schema)
    assert {name: where for name, where in modules.items() if len(where) > 1} == {}


def test_an_actions_409_documents_the_session(client):
    document = client.get("/api/openapi.json").json()
    ref = document["paths"]["/api/sessions/{session_id}/check-in"]["post"]["responses"]["409"]["content"][
        "application/json"]["schema"]["$ref"]
    conflict = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"detail", "code", "session"} <= set(conflict["properties"])


def test_me_documents_its_401(client, db):
    document = client.get("/api/openapi.json").json()
    response = client.get("/api/me")
    assert response.status_code == 401 and "401" in document["paths"]["/api/me"]["get"]["responses"]


@pytest.mark.parametrize("body", [b"[]", b"1", b'"yes"', b"null"])
def test_check_out_refuses_a_json_body_that_is_no_object(client, tutor, make_session, time_machine, body):
    """The optional body of check-out was read by a ninja Schema, which takes attributes from any
    value: [] checked the session out as if nothing was sent."""
    time_machine.move_to(NOW, tick=False)
    session = make_session(start=NOW - timedelta(hours=1), status=Status.CHECKED_IN,
                           checked_in_at=NOW - timedelta(hours=1))
    client.force_login(tutor)
    response = client.post(f"/api/sessions/{session.id}/check-out", body, content_type="application/json")
    assert response.status_code == 422 and response.json()["code"] == "invalid"
    session.refresh_from_db()
    assert session.status == Status.CHECKED_IN


def _call(client, method, url, body=None):
    if method == "GET":
        return client.get(url, body or {})
    return getattr(client, method.lower())(url, json.dumps(body), content_type="application/json")


MALFORMED_BEFORE_WHO = [
    # (who asks, method, url, malformed input, well-formed input, what the well-formed one gets)
    ("outsider", "POST", "/api/sessions/{awaiting}/notes", ["not an object"], {"text": "Fine."}, 404),
    ("outsider", "POST", "/api/sessions/{awaiting}/notes", {"text": 5}, {"text": "Fine."}, 404),
    ("outsider", "POST", "/api/sessions/{awaiting}/notes", {"text": "bad \x00 byte"}, {"text": "Fine."}, 404),
    ("outsider", "POST", "/api/sessions/{awaiting}/notes", {"text": ""}, {"text": "Fine."}, 404),
    ("parent", "POST", "/api/sessions/{awaiting}/notes", {"text": "y" * 20_001}, {"text": "Fine."}, 403),
    ("parent", "GET", "/api/creators/me/sessions/upcoming",
     {"from": "2026-11-20T10:00:00+00:00", "to": "2026-11-19T10:00:00+00:00"},
     {"from": "2026-11-20T10:00:00+00:00", "to": "2026-11-21T10:00:00+00:00"}, 404),
    ("parent", "GET", "/api/creators/me/sessions", {"cursor": "not-a-cursor"}, {"limit": 5}, 404),
    ("parent", "POST", "/api/sessions", {"tutor_id": 1, "student_id": 2, "start": "2026-12-01T10:00:00+00:00",
                                         "end": "2026-12-01T09:00:00+00:00"},
     {"tutor_id": 1, "student_id": 2, "start": "2026-12-01T10:00:00+00:00", "end": "2026-12-01T11:00:00+00:00"}, 403),
    ("parent", "POST", "/api/sessions/adhoc", {"sessions": []},
     {"sessions": [{"student_id": 2, "start": "2026-11-14T10:00:00+00:00", "end": "2026-11-14T11:00:00+00:00"}]},
     403),
    ("parent", "POST", "/api/matches/{match}/accept",
     {"weekdays": [0], "start_time": "16:00", "minutes": 2, "starts_on": "2026-12-01"},
     {"weekdays": [0], "start_time": "16:00", "minutes": 60, "starts_on": "2026-12-01"}, 403),
    ("parent", "POST", "/api/matches/{match}/accept",
     {"weekdays": [9], "start_time": "16:00", "minutes": 60, "starts_on": "2026-12-01"},
     {"weekdays": [0], "start_time": "16:00", "minutes": 60, "starts_on": "2026-12-01"}, 403),
]


@pytest.mark.parametrize(("who", "method", "url", "malformed", "fine", "fine_status"), MALFORMED_BEFORE_WHO,
                         ids=[f"{c[0]} {c[1]} {c[2]} {i}" for i, c in enumerate(MALFORMED_BEFORE_WHO)])
def test_malformed_input_is_a_422_before_who_asks_is_looked_at(client, time_machine, awaiting, tutor, student,
                                                              parent, outsider, who, method, url, malformed, fine,
                                                              fine_status):
    """Issue 18 item 3: malformed input is a 422 with `errors` whoever sends it (these callers may
    not act here, or not even see the session: that 404 or 403 comes only for well-formed input,
    so the 422 tells nothing about the session). Nothing is written either way."""
    time_machine.move_to(NOW, tick=False)
    match = Match.objects.get(tutor=tutor, student=student)  # the family's match (conftest)
    url = url.format(awaiting=awaiting.id, match=match.id)
    client.force_login({"parent": parent, "outsider": outsider}[who])
    events = SessionEvent.objects.count()
    response = _call(client, method, url, malformed)
    assert response.status_code == 422, response.content
    assert response.json()["code"] and response.json()["detail"]
    assert response.json()["errors"] and all("field" in e and e["detail"] for e in response.json()["errors"])
    response = _call(client, method, url, fine)
    assert response.status_code == fine_status, response.content
    assert SessionEvent.objects.count() == events and not Note.objects.exists()
