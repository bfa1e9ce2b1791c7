"""The lifecycle package is the only code that writes a session's status (issue 13 item 2): a scan
of the project's source for every way a status can be written (an attribute assignment, a
queryset update or bulk_update, setattr, raw SQL `UPDATE tutoring_sessions_session SET status`),
outside sessions/lifecycle/. Writes to other models' `status` are told apart by the class a
queryset starts from; the few whose receiver a scan cannot name are listed below with what they
are, so a new one has to be looked at."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "sessions" / "lifecycle"
SKIP = {"tests", ".venv", "var", "node_modules", "test-artifacts"}

# (file, receiver): writes of another model's or object's `status`, checked by reading them
NOT_A_SESSION = {
    ("tutoring/errors.py", "self"): "Refused.status, the HTTP status of a refusal",
    ("room/views.py", "self"): "NotAllowed.status, the HTTP status of a room refusal",
    ("notifications/dispatch.py", "d"): "a Delivery's state after its channel answered",
    ("notifications/admin.py", "queryset"): "the Delivery admin's retry action",
    ("bench/upload_memory.py", "result"): "a benchmark's result row",
}

SQL_SET_STATUS = re.compile(r"UPDATE\s+tutoring_sessions_session\s+SET\s+(?:(?!\bWHERE\b|\bRETURNING\b).)*?"
                            r"\bstatus\s*=", re.IGNORECASE | re.DOTALL)


def sources():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] in SKIP or "migrations" in rel.parts:
            continue
        yield rel, path


def root_of(node: ast.AST) -> str:
    """The name a call chain or attribute starts from: Session.objects.filter(...) -> Session."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id
        else:
            return ast.unparse(node)


def status_writes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, receiver) of each write of an attribute or column called status."""
    found = []
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            for t in ast.walk(target):
                if isinstance(t, ast.Attribute) and t.attr == "status" and isinstance(t.ctx, ast.Store):
                    found.append((t.lineno, root_of(t.value)))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name == "update" and any(k.arg == "status" for k in node.keywords):
                found.append((node.lineno, root_of(node.func.value)))
            if name == "bulk_update" and "'status'" in ast.unparse(node).replace('"', "'"):
                found.append((node.lineno, root_of(node.func.value)))
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr"
                and len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and node.args[1].value == "status"):
            found.append((node.lineno, root_of(node.args[0])))
    return found


def session_status_writers(files) -> list[str]:
    bad = []
    for rel, text in files:
        for match in SQL_SET_STATUS.finditer(text):
            bad.append(f"{rel}:{text[:match.start()].count(chr(10)) + 1} raw SQL sets a session's status")
        for line, receiver in status_writes(ast.parse(text)):
            other_model = receiver[:1].isupper() and receiver != "Session"
            if not other_model and (str(rel), receiver) not in NOT_A_SESSION:
                bad.append(f"{rel}:{line} writes {receiver}...status")
    return bad


def project_files(inside_package: bool):
    for rel, path in sources():
        if path.is_relative_to(PACKAGE) == inside_package:
            yield rel, path.read_text()


def test_nothing_outside_the_lifecycle_package_writes_a_session_status():
    assert session_status_writers(project_files(inside_package=False)) == []


def test_the_scan_finds_the_writes_it_looks_for():
    """The scan can fail: it finds the lifecycle's own writes (both sweeps' SQL, the transitions'
    assignments), and each way of writing a status in a probe."""
    inside = session_status_writers(project_files(inside_package=True))
    assert sum("raw SQL" in w for w in inside) == 2
    assert any(w.startswith("sessions/lifecycle/transitions.py") for w in inside)
    probe = '''
session.status = "approved"
Session.objects.filter(pk=1).update(status="approved")
qs.update(status="approved")
Session.objects.bulk_update(rows, ["status"])
setattr(session, "status", "approved")
cursor.execute("""UPDATE tutoring_sessions_session SET updated_at = now(), status = 'approved' WHERE id = 1""")
Delivery.objects.filter(pk=1).update(status="sent")
'''
    found = session_status_writers([(Path("probe.py"), probe)])
    assert [w.split(":")[1].split()[0] for w in found] == ["7", "2", "3", "4", "5", "6"]


def test_the_lifecycle_checks_edges_without_assert():
    """A bare assert is gone under `python -O`; the package has none (rules.require_edge instead)."""
    asserts = [f"{rel}:{node.lineno}" for rel, text in project_files(inside_package=True)
               for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Assert)]
    assert asserts == []
