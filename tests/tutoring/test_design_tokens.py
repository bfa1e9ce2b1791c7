"""Issue 10 item 12: one small set of design tokens (static/css/tokens.css :root, written up in
docs/ui.md) and every stylesheet takes its colours, spacing and font sizes from it; pages carry no inline styles (email
templates excepted: mail clients read only inline styles)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CSS = sorted((ROOT / "static" / "css").glob("*.css"))
COLOUR = re.compile(r"#[0-9a-fA-F]{3,8}\b|\brgba?\(|\bhsla?\(")


def token_block(text: str) -> str:
    start = text.index(":root {\n  /* design tokens")
    return text[start:text.index("}", start) + 1]


def test_every_colour_comes_from_the_tokens():
    site = (ROOT / "static" / "css" / "tokens.css").read_text()
    tokens = token_block(site)
    defined = set(re.findall(r"(--[a-z0-9-]+):", tokens))
    assert {"--color-ink", "--color-brand", "--status-scheduled", "--status-completed", "--status-cancelled",
            "--status-no-show", "--space-4", "--text-base"} <= defined
    for sheet in CSS:
        text = sheet.read_text().replace(tokens, "")
        assert not COLOUR.findall(text), f"{sheet.name} has colours outside the tokens: {COLOUR.findall(text)}"
        used = set(re.findall(r"var\((--[a-z0-9-]+)\)", text))
        assert used <= defined, f"{sheet.name} uses undefined tokens {used - defined}"


SPACED = re.compile(r"(?<![\w-])((?:margin|padding)(?:-[a-z-]+)?|gap|row-gap|column-gap|font-size|font)\s*:\s*([^;}]+)")
LENGTH = re.compile(r"(?<![\w-])-?\d*\.?\d+(?:rem|em|px|pt|vh|vw|%)")


def literal_spacing(text: str) -> list[str]:
    """Declarations of spacing or font size that write a length instead of a token (0 is fine)."""
    return [f"{prop}: {value.strip()}" for prop, value in SPACED.findall(text)
            if any(not re.fullmatch(r"-?0*\.?0+[a-z%]*", n) for n in LENGTH.findall(value))]


def test_every_margin_padding_gap_and_font_size_comes_from_the_tokens():
    tokens = token_block((ROOT / "static" / "css" / "tokens.css").read_text())
    assert re.search(r"--space-\d+:", tokens) and re.search(r"--text-[a-z]+:", tokens)
    for sheet in CSS:
        found = literal_spacing(sheet.read_text().replace(tokens, ""))
        assert not found, f"{sheet.name} writes spacing or type sizes outside the tokens: {found}"


def test_the_spacing_check_can_fail():
    assert literal_spacing(".a { padding: .5rem 1rem; } .b { font-size: 11px; } .c { margin: 0 var(--space-2); }") == [
        "padding: .5rem 1rem", "font-size: 11px"]
    assert literal_spacing(".a { gap: var(--space-1); margin-top: calc(-1 * var(--space-2)); padding: 0; }") == []


def test_the_tokens_are_written_up():
    ui = (ROOT / "docs" / "ui.md").read_text()
    tokens = token_block((ROOT / "static" / "css" / "tokens.css").read_text())
    for name in re.findall(r"(--[a-z0-9-]+):", tokens):
        assert f"`{name}`" in ui, f"{name} is not in docs/ui.md"


def test_pages_carry_no_inline_styles():
    for template in (ROOT / "templates").rglob("*.html"):
        if "email" in template.parts:
            continue  # mail clients read only inline styles
        assert 'style="' not in template.read_text(), template
