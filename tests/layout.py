"""The README's Layout block, generated from the tree: every package of rag/, ingest/, api/ and evals/ with
the first line of its docstring and its modules. `python -m tests.layout` prints it; a test keeps the
README in step (tests/integration/test_docs.py)."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = ("rag", "ingest", "api", "evals")
INDENT = 22
WIDTH = 120


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ")
    return first.split(". ")[0].rstrip(".")


def layout() -> str:
    lines: list[str] = []
    for top in TOP:
        for init in sorted((ROOT / top).rglob("__init__.py")):
            package = init.parent
            rel = package.relative_to(ROOT).as_posix() + "/"
            modules = sorted(p.name for p in package.glob("*.py") if p.name != "__init__.py")
            if len(rel) < INDENT:
                lines.append(f"{rel:{INDENT}s}{_summary(init)}")
            else:  # a deep package: its summary goes on the next line, with its modules
                lines += [rel, " " * INDENT + _summary(init)]
            for row in textwrap.wrap(" ".join(modules), WIDTH - INDENT):
                lines.append(" " * INDENT + row)
    return "\n".join(lines)


if __name__ == "__main__":
    print(layout())
