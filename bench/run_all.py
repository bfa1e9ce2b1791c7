"""Run every benchmark in bench/: each bench/*.py module with a top-level main(), except this one.

    .venv/bin/python bench/run_all.py [NAME ...]     (NAME: a module name such as `sweeps`)

Each runs in its own process (its own Django set-up and its own peak-RSS figures); the exit code
is non-zero if any benchmark failed.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def has_main(path: Path) -> bool:
    """Read, don't import: importing a bench may set up Django against some database."""
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(isinstance(node, ast.FunctionDef) and node.name == "main" for node in tree.body)


def benches(names: list[str]) -> list[str]:
    found = [p.stem for p in sorted(BENCH.glob("*.py"))
             if p.name not in {"__init__.py", Path(__file__).name} and has_main(p)]
    unknown = set(names) - set(found)
    if unknown:
        raise SystemExit(f"no such benchmark: {', '.join(sorted(unknown))} (have: {', '.join(found)})")
    return [name for name in found if not names or name in names]


def run(name: str) -> int:
    print(f"=== bench.{name} ===", flush=True)
    started = time.perf_counter()
    code = subprocess.call([sys.executable, "-c", f"import bench.{name} as m; raise SystemExit(m.main())"],
                           cwd=ROOT)
    outcome = "ok" if code == 0 else f"FAILED ({code})"
    print(f"=== bench.{name}: {outcome} in {time.perf_counter() - started:.0f} s", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    names = benches(sys.argv[1:] if argv is None else argv)
    failed = [name for name in names if run(name) != 0]
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
