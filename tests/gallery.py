"""test-artifacts/index.html: every screenshot the browser tests saved, by who and at which width,
to review the whole product at a glance (issue 10 item 12). Written at the end of a pytest run
(tests/conftest.py: pytest_sessionfinish, in the controlling process only), so `make test`
leaves it beside the screenshots."""

import html
import re
from collections import defaultdict
from pathlib import Path

WIDTH = re.compile(r"-(phone|desktop|\d{3,4})$")
ROLES = ("parent", "tutor", "student", "creator", "coordinator")
WIDTH_ORDER = {"phone": 375, "desktop": 1280}


def who(stem: str) -> str:
    """The role a screenshot shows: the demo walk names its login, other tests their page."""
    for role in ROLES:
        if f"demo-{role}" in stem or stem.startswith(role) or f"-{role}" in stem:
            return role
    return "other pages"


def write_gallery(artifacts: Path) -> Path | None:
    shots = sorted(artifacts.glob("*.png"))
    if not shots:
        return None
    groups: dict[str, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
    for shot in shots:
        match = WIDTH.search(shot.stem)
        width = match.group(1) if match else "any"
        groups[who(shot.stem)][width].append(shot)
    order = [r for r in ROLES if r in groups] + [g for g in groups if g not in ROLES]
    parts = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Screenshots</title>",
             "<style>body{font-family:system-ui,sans-serif;margin:1rem}figure{display:inline-block;margin:.5rem;"
             "vertical-align:top}img{max-width:20rem;border:1px solid #ccc}figcaption{font-size:.8rem}</style>",
             f"</head><body><h1>Screenshots ({len(shots)})</h1><nav><ul>"]
    parts += [f"<li><a href='#{html.escape(g)}'>{html.escape(g)}</a></li>" for g in order]
    parts.append("</ul></nav>")
    for group in order:
        parts.append(f"<section id='{html.escape(group)}'><h2>{html.escape(group)}</h2>")
        for width in sorted(groups[group], key=lambda w: WIDTH_ORDER.get(w, int(w) if w.isdigit() else 0)):
            parts.append(f"<h3>{html.escape(width)}{' px' if width.isdigit() else ''}</h3>")
            for shot in groups[group][width]:
                name = html.escape(shot.name)
                parts.append(f"<figure><a href='{name}'><img src='{name}' alt='{name}' loading='lazy'></a>"
                             f"<figcaption>{name}</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    index = artifacts / "index.html"
    index.write_text("\n".join(parts))
    return index
