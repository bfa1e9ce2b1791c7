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
from sessions import api, rules, urls
from sessions.access import Relation
from sessions.models import Session, Status
from sessions.views import actions as web_actions
from sessions.views import pages
from telegram_bot import actions as bot_actions
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
