"""Entry point of the PHMS desktop client (``phms``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version


def client_version() -> str:
    try:
        return version("phms")
    except PackageNotFoundError:
        return "0+unknown"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="phms", description="PHMS desktop client")
    parser.add_argument("--server", help="database server HOST[:PORT] (overrides the settings)")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.version:
        print(f"PHMS {client_version()}")
        return 0
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication(sys.argv[:1])
    label = QLabel("PHMS client: the login window arrives with the client issue.")
    label.resize(480, 120)
    label.show()
    return int(app.exec())
