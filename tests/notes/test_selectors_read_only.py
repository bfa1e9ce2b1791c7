"""Reads in selectors, writes in services (issue 13 item 4): notes/selectors.py calls nothing that
writes, and notes/services.py defines none of the reads any more."""

import ast
from pathlib import Path

NOTES = Path(__file__).resolve().parents[2] / "notes"
WRITES = {"save", "update", "create", "bulk_create", "bulk_update", "delete", "get_or_create",
          "update_or_create", "select_for_update", "execute", "on_commit", "publish"}
READS = {"can_read", "session_for_reader", "notes_prefetch", "notes_of", "can_add", "summary_of", "attachment_for"}


def calls(tree) -> set[str]:
    return {node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for node in ast.walk(tree) if isinstance(node, ast.Call)}


def test_the_selectors_only_read():
    tree = ast.parse((NOTES / "selectors.py").read_text())
    assert calls(tree) & WRITES == set()
    assert READS <= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_the_services_define_no_reads():
    tree = ast.parse((NOTES / "services.py").read_text())
    assert {node.name for node in tree.body if isinstance(node, ast.FunctionDef)} & READS == set()


def test_the_check_can_fail():
    assert calls(ast.parse("Note.objects.filter(pk=1).update(text='x')")) & WRITES == {"update"}
