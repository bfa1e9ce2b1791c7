"""Imports run one way (issue 13 item 3): the contracts in pyproject.toml's [tool.importlinter],
drawn in docs/architecture.md, checked by import-linter over every import, also those inside
functions; and an import is at the top of its module, where a reader sees it, unless it must wait
(an AppConfig.ready) or is listed below with its reason."""

import ast
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tutoring.celery import app

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
APPS = CONFIG["root_packages"]


def lint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def copy_of_the_project(to: Path) -> Path:
    """The apps' Python files and pyproject.toml in a folder of the test's own, so a probe module
    written there is seen by this test's lint run and by no other test (pytest-xdist runs tests in
    parallel in the one source tree)."""

    def not_python(folder, names):
        return [n for n in names if n == "__pycache__" or not (n.endswith(".py") or Path(folder, n).is_dir())]

    for package in APPS:
        shutil.copytree(ROOT / package, to / package, ignore=not_python)
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")
    return to


def test_every_import_follows_the_layers():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_app_is_checked_for_circles():
    """Each app of the layers is one whose modules may not import each other in a circle."""
    (acyclic,) = [c for c in CONFIG["contracts"] if c["type"] == "acyclic_siblings"]
    assert sorted(acyclic["ancestors"]) == sorted(APPS)
    assert not any(c.get("ignore_imports") for c in CONFIG["contracts"])


PROBES = {
    # the base package importing an app
    "layers": ({"tutoring/_probe.py": "import creators.selectors  # noqa: F401\n"},
               "tutoring._probe -> creators.selectors"),
    # one feature app importing another
    "features": ({"room/_probe.py": "import creators.selectors  # noqa: F401\n"},
                 "room._probe -> creators.selectors"),
    # two modules of notifications importing each other, one of them only inside a function
    "no-circles": ({"notifications/_probe_a.py": "from . import _probe_b  # noqa: F401\n",
                    "notifications/_probe_b.py": "def later():\n    from . import _probe_a  # noqa: F401\n"},
                   "No cycles are allowed in notifications."),
}


@pytest.mark.parametrize("contract", PROBES)
def test_an_import_against_a_contract_breaks_it(tmp_path, contract):
    """Each contract can fail: a probe written into a copy of the project breaks it."""
    files, reported = PROBES[contract]
    copy = copy_of_the_project(tmp_path)
    for name, text in files.items():
        (copy / name).write_text(text)
    result = lint("--contract", contract, cwd=copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert reported in result.stdout


# Imports inside a function that stay there, each with its reason. Django imports an app's apps.py
# before its models exist, so what an AppConfig.ready needs is imported inside it (always allowed).
WAITING_IMPORTS = {
    # boto3 takes a moment to import, and only a deployment with an S3 bucket uses it
    ("tutoring/settings.py", "s3_notes_storage", "boto3.s3.transfer"),
    ("tutoring/settings.py", "s3_notes_storage", "botocore.config"),
}


def function_level_imports(source: str) -> list[tuple[str, str, int]]:
    """(function, module, line) of each import inside a function, except in an AppConfig.ready."""
    found = []

    def visit(node, function="", in_config=False):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                bases = {getattr(base, "id", getattr(base, "attr", "")) for base in child.bases}
                visit(child, function, "AppConfig" in bases)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                if not (in_config and child.name == "ready"):
                    visit(child, child.name)
            elif function and isinstance(child, ast.Import | ast.ImportFrom):
                modules = ([("." * child.level) + (child.module or "")] if isinstance(child, ast.ImportFrom)
                           else [alias.name for alias in child.names])
                found.extend((function, module, child.lineno) for module in modules)
            else:
                visit(child, function)

    visit(ast.parse(source))
    return found


def test_imports_stand_at_the_top_of_their_module():
    """An import hidden in a function hides a dependency from whoever reads the module (and may
    hide a circle from import-linter's graph): every one outside an AppConfig.ready is listed in
    WAITING_IMPORTS with its reason, and every entry there is still needed."""
    hidden, waiting = [], set()
    for package in APPS:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            for function, module, line in function_level_imports(path.read_text()):
                if (name, function, module) in WAITING_IMPORTS:
                    waiting.add((name, function, module))
                else:
                    hidden.append(f"{name}:{line} in {function}(): {module}")
    assert not hidden, "move these imports to the top of their modules:\n" + "\n".join(hidden)
    assert waiting == WAITING_IMPORTS, f"no longer inside a function: {WAITING_IMPORTS - waiting}"


def test_the_import_check_sees_an_import_inside_a_function():
    """The check can fail: a function's import is found, a ready()'s is not."""
    source = ("from django.apps import AppConfig\n\n\ndef send():\n    from .models import Kept\n\n\n"
              "class C(AppConfig):\n    def ready(self):\n        from . import checks\n")
    assert function_level_imports(source) == [("send", ".models", 5)]


TASK_NAME = re.compile(rf"({'|'.join(APPS)})\.tasks\.\w+")


def task_names(source: str) -> set[str]:
    """The strings of a module that name a task ("notes.tasks.summarize_notes")."""
    return {node.value for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and TASK_NAME.fullmatch(node.value)}


def test_every_task_published_by_name_is_a_task():
    """A module publishes a task of its own app or of a higher one by name, to import no task module
    (which imports its services): each such name, and each of beat's, is a registered task."""
    named = {name for package in APPS for path in (ROOT / package).rglob("*.py")
             for name in task_names(path.read_text())}
    assert {"notifications.tasks.dispatch", "notifications.tasks.relay_events", "notes.tasks.summarize_notes",
            "desk.tasks.alert_low_balance"} <= named
    assert sorted(named - set(app.tasks)) == []
    assert task_names('publish("notifications.tasks.dispatchh", ids)') - set(app.tasks) == {
        "notifications.tasks.dispatchh"}
