"""The README's module map is the import order: no module imports a later one."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module_map() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### Module map", 1)[1].split("```", 2)[1]
    names = re.findall(r"^(\w+)(?:\.py|/)\s", block, flags=re.MULTILINE)
    return names


def _imports(path: Path) -> set[str]:
    """planner modules imported anywhere in a file (functions and TYPE_CHECKING included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("planner"):
            parts = node.module.split(".")
            if len(parts) > 1:
                found.add(parts[1])
            else:  # from planner import x
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("planner."):
                    found.add(alias.name.split(".")[1])
    return found


def test_module_map_lists_every_module() -> None:
    order = _module_map()
    modules = {p.stem for p in (ROOT / "planner").glob("*.py") if not p.stem.startswith("_")}
    modules |= {p.name for p in (ROOT / "planner").iterdir() if (p / "__init__.py").exists()}
    assert set(order) == modules - {"__init__"}, set(order) ^ (modules - {"__init__"})


def test_no_module_imports_a_later_one() -> None:
    order = _module_map()
    rank = {name: i for i, name in enumerate(order)}
    problems = []
    for name in order:
        package = ROOT / "planner" / name
        files = sorted(package.glob("*.py")) if package.is_dir() else [package.with_suffix(".py")]
        for file in files:
            for imported in _imports(file):
                if imported in rank and rank[imported] > rank[name]:
                    problems.append(f"{file.relative_to(ROOT)} imports {imported}")
    assert not problems, problems
