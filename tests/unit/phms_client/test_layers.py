"""Imports point down: ui -> services -> db -> phms_schema; clinical (pure rules, which
any layer may use) imports nothing of ours but itself; nothing below ui imports Qt
(DESIGN.md, section 2)."""

from __future__ import annotations

import ast
from pathlib import Path

import phms_client

ROOT = Path(phms_client.__file__).parent

#: package -> the packages of ours it must not import.
FORBIDDEN = {
    "db": ("phms_client.services", "phms_client.ui"),
    "services": ("phms_client.ui",),
    # Updating (verify, unpack, switch, restart) uses files and keys, never the database.
    "update": ("phms_client.db", "phms_client.services", "phms_client.ui"),
    "clinical": (
        "phms_client.db",
        "phms_client.services",
        "phms_client.ui",
        "phms_client.reports",
        "phms_client.config",
        "phms_schema",
    ),
}
QT = ("PySide6", "shiboken6", "pyqtgraph")


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
    return names


def _below(package: str, names: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for name in _imports(path):
            if any(name == n or name.startswith(n + ".") for n in names):
                found.append(f"{path.relative_to(ROOT).as_posix()}: {name}")
    return found


def test_layers_import_only_downwards() -> None:
    problems = [p for package, names in FORBIDDEN.items() for p in _below(package, names)]
    assert problems == []


def test_nothing_below_the_ui_imports_qt() -> None:
    packages = ("db", "services", "clinical", "update")
    problems = [p for package in packages for p in _below(package, QT)]
    assert problems == []


def test_the_check_finds_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("from phms_client.services.chart import x\nimport PySide6.QtCore\n")
    assert _imports(module) == ["phms_client.services.chart", "PySide6.QtCore"]
