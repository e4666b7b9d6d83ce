"""Workstations run Windows as well as Linux: the client uses no POSIX-only module.

The report process caps its own memory through psutil on Linux and a Job Object
(ctypes) on Windows, so no exception is needed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import phms_client

POSIX_ONLY = {"resource", "fcntl", "pwd", "grp", "termios", "pty", "tty", "posix", "syslog"}
FORKS = {"fork", "forkpty"}
ROOT = Path(phms_client.__file__).parent


def imports(tree: ast.AST) -> list[tuple[str, str | None]]:
    """(module, enclosing function or None) of every import in ``tree``."""
    found: list[tuple[str, str | None]] = []

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append((child.module.split(".")[0], function))
            visit(child, function)

    visit(tree, None)
    return found


def test_no_posix_only_module_and_no_fork_in_the_client() -> None:
    problems = []
    for path in sorted(ROOT.rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for module, function in imports(tree):
            if module in POSIX_ONLY:
                problems.append(f"{name}: imports {module} ({function or 'module level'})")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in FORKS:
                problems.append(f"{name}:{node.lineno}: uses {node.attr}")
            if isinstance(node, ast.Constant) and node.value in ("fork", "forkserver"):
                problems.append(f"{name}:{node.lineno}: start method {node.value!r}")
    assert problems == []


def test_the_scan_finds_what_it_looks_for() -> None:
    tree = ast.parse("import fcntl\ndef f():\n    import resource\n    from pwd import getpwnam\n")
    assert imports(tree) == [("fcntl", None), ("resource", "f"), ("pwd", "f")]
