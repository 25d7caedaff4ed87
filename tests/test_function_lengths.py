"""No function in planner/ is much past 80 lines: orchestration reads as a list of stage calls.

A function's length is the lines from its first statement after the
docstring to its last (the signature and docstring are documentation, not
logic). Nested functions count on their own and inside their parent.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Most lines of code in one function.
MAX_LINES = 80

#: Functions allowed to be longer, with the reason. Keep this short.
EXCEPTIONS: set[tuple[str, str]] = set()


def function_lengths(source: str) -> dict[str, int]:
    """Lines of code of every function (qualified by its class or parent function)."""
    out: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                body = child.body
                if (
                    body
                    and isinstance(body[0], ast.Expr)
                    and isinstance(body[0].value, ast.Constant)
                    and isinstance(body[0].value.value, str)
                    and len(body) > 1
                ):
                    body = body[1:]
                end = body[-1].end_lineno or body[-1].lineno
                out[prefix + child.name] = end - body[0].lineno + 1
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(ast.parse(source), "")
    return out


def long_functions(root: Path) -> list[str]:
    found = []
    for path in sorted((root / "planner").rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for name, lines in function_lengths(path.read_text(encoding="utf-8")).items():
            if lines > MAX_LINES and (rel, name.split(".")[-1]) not in EXCEPTIONS:
                found.append(f"{rel}: {name} has {lines} lines of code (at most {MAX_LINES})")
    return found


def test_no_function_is_much_past_80_lines() -> None:
    assert long_functions(ROOT) == []


def test_the_exceptions_are_still_needed() -> None:
    """An exception that no longer applies is removed, so the list stays honest."""
    for rel, name in EXCEPTIONS:
        path = ROOT / rel
        lengths = function_lengths(path.read_text(encoding="utf-8")) if path.exists() else {}
        assert any(n.split(".")[-1] == name and k > MAX_LINES for n, k in lengths.items()), (
            f"{rel}: {name} is no longer too long (or gone): remove it from EXCEPTIONS"
        )


def test_the_measure_by_hand(tmp_path: Path) -> None:
    """A docstring does not count; code does, in methods and nested functions too."""
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_LINES))
    source = (
        f'def fits():\n    """Doc\n\n    more doc.\n    """\n{body}'
        f"def too_long():\n{body}    return x0\n"
        f"class C:\n    def method(self):\n        def inner():\n"
        + "".join(f"            y{i} = {i}\n" for i in range(MAX_LINES + 1))
        + "        return inner\n"
    )
    lengths = function_lengths(source)
    assert lengths["fits"] == MAX_LINES
    assert lengths["too_long"] == MAX_LINES + 1
    assert lengths["C.method.inner"] == MAX_LINES + 1
    assert lengths["C.method"] == MAX_LINES + 3
    (tmp_path / "planner").mkdir()
    (tmp_path / "planner" / "m.py").write_text(source, encoding="utf-8")
    assert long_functions(tmp_path) == [
        f"planner/m.py: too_long has {MAX_LINES + 1} lines of code (at most {MAX_LINES})",
        f"planner/m.py: C.method has {MAX_LINES + 3} lines of code (at most {MAX_LINES})",
        f"planner/m.py: C.method.inner has {MAX_LINES + 1} lines of code (at most {MAX_LINES})",
    ]
