"""DESIGN.md's layering, checked on the source: imports point down only, and L2 stages never
import each other (they hand off through artifacts and share helpers that live in L1).

Every ``import``/``from … import`` in ``src/safemed`` is read with :mod:`ast` (including imports
inside functions, which is where the CLI loads its commands lazily), so a violation fails here
rather than in review.
"""

from __future__ import annotations

import ast
import gc
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "safemed"

LAYERS: dict[str, int] = {
    # L0 core
    "records": 0, "errors": 0, "jsonl": 0, "configs": 0, "artifacts": 0, "naming": 0, "settings": 0,
    # L1 services
    "ledger": 1, "backends": 1, "datasets": 1, "judges": 1, "attacks": 1, "stats": 1, "testing": 1,
    "ratings": 1,
    # L2 stages
    "curate": 2, "train": 2, "evaluate": 2, "study": 2,
    # L3
    "report": 3,
    # L4 entry points
    "cli": 4, "app": 4, "__main__": 4,
    # the package itself holds only its version
    "__init__": 0,
}
STAGES = frozenset(name for name, layer in LAYERS.items() if layer == 2)


def _package(module: str) -> str | None:
    """``safemed.curate.view`` → ``curate``; not a safemed module → None."""
    parts = module.split(".")
    if parts[0] != "safemed":
        return None
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    # No garbage collection while parsing: a finaliser run in the middle of ast.parse (an asyncio loop
    # an earlier test left to the collector, say) trips CPython 3.11's "AST constructor recursion
    # depth mismatch" SystemError. The caller collects once first.
    enabled = gc.isenabled()
    gc.disable()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    finally:
        if enabled:
            gc.enable()
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "safemed":
                found += [(node.lineno, f"safemed.{alias.name}") for alias in node.names]
    return found


def _violations() -> list[str]:
    gc.collect()  # run pending finalisers now, not inside ast.parse (see _imports)
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        own = rel.parts[0].removesuffix(".py")
        if own not in LAYERS:
            problems.append(f"{rel}: package {own!r} has no layer in this test (add it to LAYERS and DESIGN.md)")
            continue
        for line, module in _imports(path):
            target = _package(module)
            if target is None or target == own or target not in LAYERS:
                continue
            if LAYERS[target] > LAYERS[own]:
                problems.append(f"{rel}:{line}: L{LAYERS[own]} {own} imports L{LAYERS[target]} {module}")
            elif own in STAGES and target in STAGES:
                problems.append(f"{rel}:{line}: stage {own} imports stage {module} (hand off through artifacts, "
                                "or move the helper to L1)")
    return problems


def test_imports_point_down_and_stages_do_not_import_each_other() -> None:
    assert _violations() == []


@pytest.mark.parametrize("source, expected", [
    ("from safemed.evaluate.extract import extract_answer\n", "stage curate imports stage safemed.evaluate"),
    ("import safemed.cli.main\n", "L2 curate imports L4 safemed.cli.main"),
])
def test_the_check_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str,
                                       expected: str) -> None:
    fake = tmp_path / "safemed"
    (fake / "curate").mkdir(parents=True)
    (fake / "curate" / "bad.py").write_text(source, encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "SRC", fake)
    assert any(expected in problem for problem in _violations())
