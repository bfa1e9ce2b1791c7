"""Issue 17: coordinators read what happened in words. Every kind of event the lifecycle writes has
its own label (a new kind without one would show as its code, e.g. "Moved" for a coordinator's move)."""

import re
from pathlib import Path

from sessions.models import EVENT_LABELS, event_label

LIFECYCLE = Path(__file__).resolve().parents[2] / "sessions" / "lifecycle"


def kinds_written() -> set[str]:
    found = set()
    for source in LIFECYCLE.glob("*.py"):
        found |= set(re.findall(r'\bkind="([a-z_]+)"', source.read_text()))
    return found


def test_every_kind_the_lifecycle_writes_has_a_label():
    kinds = kinds_written()
    assert {"check_in", "cancel", "moved", "reschedule_accepted"} <= kinds  # the scan finds what is written
    assert sorted(kinds - EVENT_LABELS.keys()) == []
    assert event_label("moved") == "Moved by a coordinator"
