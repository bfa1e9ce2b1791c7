"""Issue 13 item 1: the session actions are written once, in the registry (sessions/actions.py).
Every surface is made from it and has no action of its own: the web card's URLs, the JSON API's
routes, the admin's actions, the card's parts and the Telegram bot's buttons; each entry's `who` is
what its guard enforces, and its lifecycle function runs the same guard."""

import ast
import inspect
import re
import tomllib
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import resolve, reverse

from sessions import actions as registry
from sessions import api, projections, rules, selectors, urls
from sessions.access import Relation, Viewer
from sessions.models import Session, Status
from sessions.views import actions as web_actions
from sessions.views import pages
from telegram_bot import actions as bot_actions
from telegram_bot import core as bot_core
from telegram_bot.models import TelegramLink
from tests.conftest import NOW

CONVERSATIONS = {"notes", "cancel", "reschedule", "reject", "counter"}  # telegram_bot.core's steps
SESSION_URL = re.compile(r"^sessions/<int:session_id>/(.+)$")


def test_every_web_action_url_is_a_registry_entry_and_nothing_else_is():
    web = {a.web.url_name: a for a in registry.ACTIONS if a.web}
    action_urls = {p.name: p for p in urls.urlpatterns if SESSION_URL.match(str(p.pattern))}
    assert set(action_urls) == set(web)
    for name, action in web.items():
        url = reverse(name, args=[7])
        assert url == f"/sessions/7/{action.web.path}"
        assert resolve(url).func is web_actions.VIEWS[action.name]
        assert action.card is not None, f"{action.name} has a web form but no place on the card"


def test_every_api_action_route_is_a_registry_entry_and_nothing_else_is():
    routes = {}
    for path, path_view in api.router.path_operations.items():
        for operation in path_view.operations:
            if "POST" in operation.methods and path.startswith("/{session_id}/"):
                routes[path.removeprefix("/{session_id}")] = operation.view_func
    expected = {a.api.path: a for a in registry.ACTIONS if a.api}
    assert set(routes) == set(expected)
    for path, action in expected.items():
        assert routes[path] is api.ROUTES[action.name]
        assert routes[path].__name__ == action.name


def test_the_admin_actions_are_the_registry_entries_with_an_admin_part():
    session_admin = admin.site._registry[Session]
    names = [a.__name__ for a in session_admin.actions]
    assert names == [a.admin.name for a in registry.ACTIONS if a.admin]


def test_the_bots_buttons_are_the_registry_entries_bot_parts():
    keys = [b.key for a in registry.ACTIONS for b in a.bot]
    assert list(bot_actions.ACTIONS) == keys
    assert len(set(keys)) == len(keys)
    for button in bot_actions.ACTIONS.values():
        assert button.action is registry.BY_NAME[button.action.name]
        # a button runs the action and says what it did, or opens one of the bot's conversations
        assert button.button.done if not button.starts else button.starts in CONVERSATIONS


def test_the_card_is_made_of_the_registry_entries_partials():
    assert pages.CARD_FORMS == tuple(a for a in registry.ON_CARD if a.web)
    assert pages.Card.parts == registry.ON_CARD
    templates = Path(settings.BASE_DIR) / "templates"
    page = (templates / "sessions/session.html").read_text()
    for action in registry.ACTIONS:
        if action.web:
            # the page names no action: each form (its URL) is in the action's own partial
            assert f"'{action.web.url_name}'" not in page
        if action.card:
            partial = (templates / action.card.template).read_text()
            if action.web:
                assert f"'{action.web.url_name}'" in partial
                assert f'"{action.name}"' in partial  # its error and its input are shown at it


def test_names_are_unique_and_each_surface_name_once():
    assert len(registry.BY_NAME) == len(registry.ACTIONS)
    for part, key in (("web", "url_name"), ("web", "path"), ("api", "path"), ("admin", "name")):
        values = [getattr(getattr(a, part), key) for a in registry.ACTIONS if getattr(a, part)]
        assert len(values) == len(set(values)), (part, key)


@pytest.mark.parametrize("action", registry.ACTIONS, ids=lambda a: a.name)
@pytest.mark.parametrize("status", Status.values)
def test_who_is_what_the_guard_enforces(action, status):
    """Anyone holding none of `who` is refused as not allowed, whatever the session's state."""
    session = Session(status=status, scheduled_start=NOW + timedelta(days=2),
                      scheduled_end=NOW + timedelta(days=2, hours=1))
    others = frozenset(Relation) - action.who
    refused = rules.refusal(action.guard, rules.Ctx(session=session, rels=others, now=NOW))
    assert refused is not None and refused.code == "not_allowed"


@pytest.mark.parametrize("action", [a for a in registry.ACTIONS if a.run], ids=lambda a: a.name)
def test_the_lifecycle_function_runs_the_entrys_guard(action):
    """What the surfaces offer (allowed_in runs entry.guard) is what the lifecycle checks."""
    source = inspect.getsource(inspect.unwrap(action.run))
    assert f"rules.{action.guard.__name__}" in source
    parameters = inspect.signature(inspect.unwrap(action.run)).parameters
    assert set(action.takes) <= set(parameters)


def test_allowed_actions_list_the_registry_in_its_order():
    session = Session(status=Status.SCHEDULED, scheduled_start=NOW + timedelta(days=2),
                      scheduled_end=NOW + timedelta(days=2, hours=1))
    ctx = rules.Ctx(session=session, rels=frozenset(Relation), now=NOW)
    allowed = registry.allowed_in(ctx)
    assert allowed == [a.name for a in registry.ACTIONS if a.name in allowed]
    assert {"cancel", "reschedule"} <= set(allowed)


# --- no surface calls a registered action's lifecycle function but through the registry ------------

APPS = tomllib.loads((Path(settings.BASE_DIR) / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]
# the lifecycle itself and the registry that calls it; data builders that are no surface (the demo
# world replays a history with chosen times and channels)
NOT_SURFACES = ("sessions/lifecycle/", "sessions/actions.py", "/migrations/", "/management/commands/")


def direct_calls(source: str, names: set[str]) -> list[str]:
    """Where `source` reaches one of the lifecycle's `names` other than through the registry:
    lifecycle.<name> (the package under any alias), or <name> imported from it."""
    tree = ast.parse(source)
    modules, functions = set(), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):  # import sessions.lifecycle
            modules.update(a.asname or a.name for a in node.names if a.name == "sessions.lifecycle")
        elif isinstance(node, ast.ImportFrom):
            source_module = "." * node.level + (node.module or "")
            for alias in node.names:
                if alias.name == "lifecycle":  # from sessions import lifecycle, from .. import lifecycle
                    modules.add(alias.asname or alias.name)
                elif source_module.endswith("lifecycle") and alias.name in names:
                    functions[alias.asname or alias.name] = alias.name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names:
            base = ast.unparse(node.value)
            if base in modules:
                found.append(f"{node.lineno}: {base}.{node.attr}")
        elif isinstance(node, ast.Name) and node.id in functions:
            found.append(f"{node.lineno}: {node.id} (lifecycle.{functions[node.id]})")
    return found


def test_no_surface_calls_a_registered_actions_lifecycle_function_directly():
    """Issue 13 item 1: every surface takes a registered action through its entry
    (actions.BY_NAME[name].perform), so its guard, texts and effects are the registry's; the
    room's check-in, the creator's and the desk's dispute decisions too. A new view, page or
    service that calls lifecycle.check_in (or any other entry's function) itself fails here."""
    names = {a.run.__name__ for a in registry.ACTIONS if a.run}
    root = Path(settings.BASE_DIR)
    offenders = {}
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if any(part in f"/{relative}" for part in NOT_SURFACES):
                continue
            if calls := direct_calls(path.read_text(), names):
                offenders[relative] = calls
    assert offenders == {}


@pytest.mark.parametrize("source", [
    "from sessions import lifecycle\nlifecycle.check_in(s, by=u, channel='web')\n",
    "from sessions import lifecycle as lc\nf = lambda: lc.resolve_dispute(s, by=u, decision='void')\n",
    "from sessions.lifecycle import cancel\ncancel(s, by=u)\n",
    "from .. import lifecycle\nlifecycle.acknowledge(s, by=u)\n",
])
def test_the_scan_finds_a_direct_call(source):
    names = {a.run.__name__ for a in registry.ACTIONS if a.run}
    assert direct_calls(source, names)
    assert not direct_calls("from sessions import actions\nactions.BY_NAME['check_in'].perform(s, by=u)\n", names)


# --- the bot's commands, the desk's answers and the card's rules are the registry's too ----------


def test_the_bots_help_lists_the_registry_entries_commands_in_registry_order():
    """Issue 13 item 1: /help is made from the registry: between /sessions and the bot's own
    commands, each entry's Command line, in registry order, and nothing else."""
    commands = [a.command for a in registry.ACTIONS if a.command]
    assert [c.name for c in commands] == ["checkin", "checkout", "cancel", "reschedule"]
    lines = bot_core.HELP.split("\n")
    assert lines[1:1 + len(commands)] == [f"/{c.name} – {c.help}" for c in commands]
    assert lines[0].startswith("/sessions – ")
    assert [line.split(" – ")[0] for line in lines[1 + len(commands):]] == ["/done", "/stop", "/unlink"]
    for action in registry.ACTIONS:
        if action.command:
            assert action.command.name not in bot_core.OWN_COMMANDS  # the bot's own never hide it
            assert action.bot, f"/{action.command.name} has no button to run"
            assert registry.COMMANDS[action.command.name] is action


@pytest.mark.django_db
def test_each_registry_command_is_dispatched_to_its_entry(tutor):
    """Issue 13 item 1: every entry's command reaches its entry (its verb answers a tutor with no
    session), and a name no entry has is unknown."""
    TelegramLink.objects.create(user=tutor, chat_id=4242, linked_at=NOW)
    for name, action in registry.COMMANDS.items():
        outs = bot_core.handle(bot_core.Input(chat_id=4242, kind="command", command=name), now=NOW)
        assert [o.text for o in outs] == [f"You have no session to {action.command.verb} now."]
    outs = bot_core.handle(bot_core.Input(chat_id=4242, kind="command", command="acknowledge"), now=NOW)
    assert outs[0].text.startswith("I do not know /acknowledge.")


def test_the_desks_answers_are_the_registry_entries_on_behalf_parts():
    """Issue 13: the coordinator's answers on the desk (desk/moves.py) are the entries with an
    OnBehalf part: their choices, labels and confirmations; each answers the open proposal on a
    side's behalf."""
    from desk import moves

    entries = [a for a in registry.ACTIONS if a.on_behalf]
    assert [a.name for a in entries] == ["accept_reschedule", "reject_reschedule", "withdraw_reschedule"]
    assert moves.AnswerForm.base_fields["answer"].choices == [(a.on_behalf.choice, a.on_behalf.label)
                                                              for a in entries]
    for action in entries:
        assert action.proposal and "on_behalf" in action.takes and "reason" in action.takes
        assert "{side}" in action.on_behalf.done
        assert registry.ON_BEHALF[action.on_behalf.choice] is action


def string_literals(path: str) -> set[str]:
    """Every string constant in a module's source, f-strings' literal parts included."""
    tree = ast.parse((Path(settings.BASE_DIR) / path).read_text())
    return {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_the_card_page_the_desk_and_the_bot_name_no_action():
    """Issue 13 item 1: the card's rules (its lockouts, its notes link, its reason pickers, the
    terms shown first) are the registry entries' parts, so the card page names no action; the
    desk's answers are its OnBehalf parts (the desk names only its page's own action, the move);
    the bot names no command and no button of the registry; the room restates no guard (its check-in
    and "Reschedule instead" ask the guards)."""
    names = set(registry.BY_NAME)
    assert string_literals("sessions/views/pages.py") & names == set()
    assert string_literals("sessions/views/actions.py") & names == set()
    desk = string_literals("desk/moves.py")
    assert desk & names == {"move"}
    assert not any(text.endswith("_reschedule") for text in desk)
    bot = string_literals("telegram_bot/core.py")
    keys = {b.key for a in registry.ACTIONS for b in a.bot}
    conversations = {b.starts for a in registry.ACTIONS for b in a.bot}  # its steps' names ("cancel")
    assert bot & (keys | set(registry.COMMANDS) - conversations) == set()
    assert not [text for text in bot for name in registry.COMMANDS if f"/{name}" in text]
    # the room asks the guards (through the registry or rules.refusal) and restates none of them: no
    # refusal text of the guards' own, no window or lockout of theirs
    guard_texts = {text for text in string_literals("sessions/rules.py") if " " in text and text.endswith(".")}
    windows = [name for name, value in vars(rules).items() if name.isupper() and isinstance(value, timedelta)]
    for path in sorted((Path(settings.BASE_DIR) / "room").rglob("*.py")):
        module = str(path.relative_to(settings.BASE_DIR))
        assert string_literals(module) & guard_texts == set(), module
        assert not [name for name in windows if re.search(rf"\b{name}\b", path.read_text())], module


@pytest.mark.django_db
def test_only_an_entry_with_terms_shows_them_on_get(client, tutor, session):
    """Issue 13: the terms shown first are the Web part's own (`terms`: cancel's penalty guidance):
    its GET shows them; every other web action answers GET with 405."""
    client.force_login(tutor)
    for action in registry.ACTIONS:
        if action.web:
            response = client.get(reverse(action.web.url_name, args=[session.id]))
            assert response.status_code == (200 if action.web.terms else 405), action.name
            if action.web.terms:
                assert "guidance" in response.context


# files whose reads moved to sessions/selectors.py: no thread or proposal read of their own
OPEN_REQUEST_READERS = ("sessions/lifecycle/core.py", "sessions/projections.py", "sessions/admin.py",
                        "desk/moves.py", "sessions/views/pages.py", "sessions/api.py", "telegram_bot/core.py")
# and no list of their own: reasons, courses, enrolments, matches
LIST_READERS = ("sessions/views/pages.py", "sessions/api.py", "telegram_bot/core.py")


def test_the_open_request_and_the_pages_lists_are_read_in_selectors():
    """Issue 13 ("reads in selectors"): a session's open thread and proposal are read by
    selectors.open_thread_and_proposal (for a list, selectors.with_open_thread): the lifecycle, the
    projections, the admin, the desk, the pages, the API and the bot read no thread or proposal
    themselves; the pages, the API and the bot read no reasons, courses, enrolments or matches."""
    root = Path(settings.BASE_DIR)
    threads = re.compile(r"Reschedule(?:Thread|Proposal)\.objects|reschedule_threads\.filter|proposals\.filter")
    lists = re.compile(r"(?:ChangeReason|Course|Enrollment|Match|Guardianship)\.objects")
    found = {path: threads.findall(root.joinpath(path).read_text()) for path in OPEN_REQUEST_READERS}
    found |= {f"{path} (lists)": lists.findall(root.joinpath(path).read_text()) for path in LIST_READERS}
    assert {path: hits for path, hits in found.items() if hits} == {}


@pytest.mark.django_db
def test_the_open_request_selector_reads_fresh_or_from_the_prefetch(session, tutor, parent, reasons,
                                                                    django_assert_num_queries):
    """Issue 13: one read of the open request. Read now: the thread (with its reason) and its
    proposals, two queries; from a list's prefetch: none; `fresh` (the lifecycle, under the session
    lock) reads again past a stale prefetch."""
    plain = Session.objects.get(pk=session.pk)
    with django_assert_num_queries(1):
        assert selectors.open_thread_and_proposal(plain, fresh=True) == (None, None)
    listed = selectors.with_open_thread(Session.objects.filter(pk=session.pk)).get()
    registry.BY_NAME["reschedule"].perform(session.pk, by=tutor, channel="web", now=NOW, data={
        "proposed_start": session.scheduled_start + timedelta(days=1),
        "reason_id": reasons[("tutor", "reschedule")].id})
    with django_assert_num_queries(0):
        assert selectors.open_thread_and_proposal(listed) == (None, None)  # the list's, as it was read
    with django_assert_num_queries(2):
        thread, proposal = selectors.open_thread_and_proposal(listed, fresh=True)
    with django_assert_num_queries(0):
        assert (thread.reason.kind, proposal.proposed_by.username) == ("reschedule", tutor.username)
        assert proposal.thread is thread and thread.all_proposals == [proposal]
    again = selectors.with_open_thread(Session.objects.filter(pk=session.pk)).get()
    with django_assert_num_queries(0):
        assert selectors.open_thread_and_proposal(again)[1] == proposal


@pytest.mark.django_db
def test_the_cards_pickers_and_its_notes_link_are_the_card_parts(session, make_session, tutor, parent, reasons):
    """Issue 13: the card gives each part the reasons its Card part names (the acting side's), and
    a part for one side (the notes link: the tutor's) only on that side's card."""
    tutor_card = pages.build_card(session, Viewer.of(tutor), NOW, pickers=selectors.reason_pickers(["tutor"]))
    assert tutor_card.reasons == {
        a.name: list(selectors.change_reasons("tutor", a.card.reasons)) for a in registry.ON_CARD if a.card.reasons}
    assert set(tutor_card.reasons) == {"cancel", "reschedule"}
    # the parent who is also the session's tutor: the notes link on their tutor's card only
    start = NOW - timedelta(days=1)
    own = make_session(start=start, tutor=parent, status=Status.AWAITING_APPROVAL_PARENT, checked_in_at=start,
                       checked_out_at=start + timedelta(hours=1))
    assert rules.refusal(rules.guard_add_notes, projections.context(own, Viewer.of(parent), NOW)) is None
    assert "add_notes" in pages.build_card(own, Viewer.of(parent), NOW, as_role="tutor").allowed
    assert "add_notes" not in pages.build_card(own, Viewer.of(parent), NOW, as_role="parent").allowed
