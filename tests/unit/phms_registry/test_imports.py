"""The registry shares only the export format and its anonymity with PHMS (DESIGN.md, 2).

``phms_registry`` may import, of PHMS, only ``phms_schema.registry_format``,
``phms_schema.registry_anonymity`` and ``phms_schema.anonymity``; those three are
pure (the standard library and each other), so the registry's k is computed by
exactly the code the sender runs, and nothing else of PHMS comes along.
"""

from __future__ import annotations

import ast
from pathlib import Path

import phms_registry
import phms_schema

SHARED = ("phms_schema.registry_format", "phms_schema.registry_anonymity", "phms_schema.anonymity")
OURS = ("phms_schema", "phms_client", "phms_admin", "phms_registry")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names += [node.module] + [
                f"{node.module}.{a.name}" for a in node.names if node.module == "phms_schema"
            ]
    return names


def _ours(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in OURS)


def test_the_registry_imports_only_the_shared_modules() -> None:
    root = Path(phms_registry.__file__).parent
    found = [
        f"{path.relative_to(root).as_posix()}: {name}"
        for path in sorted(root.rglob("*.py"))
        for name in _imports(path)
        if _ours(name)
        and not name.startswith("phms_registry")
        and name not in SHARED
        and name != "phms_schema"  # "from phms_schema import anonymity" names it too
    ]
    assert found == []


def test_the_shared_modules_are_pure() -> None:
    root = Path(phms_schema.__file__).parent
    for module in SHARED:
        path = root / f"{module.split('.')[1]}.py"
        names = _imports(path)
        assert [n for n in names if _ours(n) and n not in SHARED and n != "phms_schema"] == []
        assert not [n for n in names if n.split(".")[0] in ("sqlalchemy", "PySide6")]
