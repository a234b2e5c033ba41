"""The house rules of the README's layout, read from the source: dependencies point inward, no
module imports itself back through others, and modules stay small."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "training", "measure", "bot", "scraper", "lookbot")
ENGINE_SHELLS = ("core", "bot", "scraper")
MAX_LINES = 300
STILL_LONG: set[str] = set()  # modules being split, allowed over MAX_LINES meanwhile


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that `name` imports anywhere in its body, functions included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        out.update(t for t in targets if t in known and t != name)
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, path, set(mods)) for name, path in mods.items()}


def test_engine_and_shells_never_import_training_or_measure():
    bad = [(m, d) for m, deps in graph().items() for d in deps
           if m.split(".")[0] in ENGINE_SHELLS and d.split(".")[0] in ("training", "measure")]
    assert bad == []


def test_core_imports_neither_bot_nor_scraper():
    bad = [(m, d) for m, deps in graph().items() for d in deps
           if m.startswith("core") and d.split(".")[0] in ("bot", "scraper", "lookbot")]
    assert bad == []


def test_no_import_cycles():
    g = graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(g[node]):
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_modules_stay_small():
    long = {name: n for name, path in modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES and name not in STILL_LONG}
    assert long == {}
