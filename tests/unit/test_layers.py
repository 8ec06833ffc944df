"""The packages' layers run one way: launcher -> {api, edge_lane, bench} -> {projections,
plate_reader} -> core.

Sideways arrows allowed: api -> edge_lane (MQTT, broker and log helpers), bench -> api
(the notifier bench). Imports inside functions count too: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = frozenset({"core", "plate_reader", "projections", "api", "edge_lane", "bench", "launcher"})
EVERYTHING = OURS | {"tests"}

# Of our packages (and tests/), what each package may not import.
FORBIDDEN = {
    "core": EVERYTHING - {"core"},
    "plate_reader": EVERYTHING - {"plate_reader", "core"},
    "projections": EVERYTHING - {"projections", "core"},
    "api": frozenset({"bench", "launcher", "tests"}),
    "edge_lane": frozenset({"api", "bench", "launcher", "tests"}),
    "bench": frozenset({"launcher", "tests"}),
    "launcher": frozenset({"tests"}),
}


def imported_packages(path: Path, package: str) -> Iterator[tuple[int, str]]:
    """(line, top-level package) of every import in a module, wherever it sits in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            # A relative import stays inside its own package.
            module = package if node.level else (node.module or "")
            yield node.lineno, module.split(".")[0]


def wrong_arrows(package: str) -> list[str]:
    wrong = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, imported in imported_packages(path, package):
            if imported in FORBIDDEN[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {imported}")
    return wrong


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    assert list((ROOT / package).rglob("*.py")), f"no modules found in {package}/"
    assert wrong_arrows(package) == []


@pytest.mark.parametrize("module", ["api", "api.app", "api.commands"])
def test_importing_the_server_pulls_in_no_bench_tests_or_launcher(module: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}, sys; print(sorted(m for m in sys.modules "
         "if m.split('.')[0] in {'bench', 'tests', 'launcher'}))"],
        capture_output=True, text=True, timeout=60, check=True, cwd=ROOT,
    )  # fmt: skip
    assert done.stdout.strip() == "[]"
