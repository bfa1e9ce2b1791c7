"""Imports run one way (issue 13 item 3): the contracts in pyproject.toml's [tool.importlinter],
drawn in docs/architecture.md, checked by import-linter over every import, also those inside
functions."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_every_import_follows_the_layers():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_an_import_against_the_layers_breaks_the_contract(tmp_path):
    """The check can fail: the base package importing an app is reported."""
    config = (ROOT / "pyproject.toml").read_text()
    probe = ROOT / "tutoring" / "_layer_probe.py"
    probe.write_text("import creators.selectors  # noqa: F401\n")
    try:
        (tmp_path / "pyproject.toml").write_text(config)
        result = lint("--config", str(tmp_path / "pyproject.toml"), "--contract", "layers")
    finally:
        probe.unlink()
    assert result.returncode == 1
    assert "tutoring._layer_probe -> creators.selectors" in result.stdout
