"""Help > About PHMS: versions of everything, the server and who is logged in.

It also shows the compatibility window (``phms_client.db.gate``): the schema
revisions this client works with, and the oldest PHMS version the database accepts.
The server's facts are read fresh (:func:`phms_client.services.about.server_facts`)
on the task runner; until they arrive the values from the login are shown.
"""

from __future__ import annotations

import platform

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import classify
from phms_client.db.gate import Window
from phms_client.services.about import ServerFacts, server_facts
from phms_client.ui.shared.context import AppContext
from phms_client.version import OLDEST_SCHEMA, client_version
from phms_schema import SCHEMA_REVISION

__all__ = ["AboutDialog"]


class AboutDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About PHMS")
        self._ctx = ctx
        self._key = ("about", id(self))

        title = QLabel(f"PHMS {client_version()}")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        subtitle = QLabel("Records for the pulmonary hypertension clinic")
        subtitle.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        info = ctx.login
        rows = [
            ("client", "Client version", client_version()),
            ("toolkit", "Qt / PySide", f"{qVersion()} / {PySide6.__version__}"),
            ("python", "Python", platform.python_version()),
            ("computer", "Computer", platform.platform()),
            ("server", "Server", ctx.config.display_address()),
            ("database", "Database", ctx.config.database),
            ("postgres", "PostgreSQL", info.server_version),
            ("schema", "Schema revision", self._schema_text(info.schema_revision)),
            ("works_with", "Client works with", f"schema {OLDEST_SCHEMA} or newer"),
            ("accepts", "Database accepts", self._accepts_text(self._login_minimum())),
            ("user", "Logged in as", f"{info.user} ({info.group})"),
        ]
        for key, label, value in rows:
            field = QLabel(value)
            field.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            field.setWordWrap(True)
            self.values[key] = field
            form.addRow(f"{label}:", field)

        self.status_label = QLabel("Asking the server…")
        self.status_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.copy_button = QPushButton("&Copy details")
        self.copy_button.setToolTip("Copy these details, e.g. to send them to IT")
        self.copy_button.clicked.connect(self.copy_details)
        buttons = QDialogButtonBox()  # made in the order they stand: Tab's order
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(subtitle)
        layout.addSpacing(8)
        layout.addLayout(form)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        layout.addSpacing(8)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)

        ctx.tasks.run(self._load, on_success=self._loaded, on_error=self._failed, key=self._key)

    @staticmethod
    def _schema_text(revision: str) -> str:
        if revision == SCHEMA_REVISION:
            return f"{revision} (as this client expects)"
        if revision.isdigit() and int(revision) < int(SCHEMA_REVISION):
            return f"{revision} (older than this client's {SCHEMA_REVISION}; it works with it)"
        return f"{revision} (newer than this client's {SCHEMA_REVISION}; it accepts this client)"

    def _login_minimum(self) -> str | None:
        login = self._ctx.login
        return Window.from_settings(login.schema_revision, login.settings.values).min_client_version

    @staticmethod
    def _accepts_text(minimum: str | None) -> str:
        if minimum is None:
            return "any PHMS (this database records no oldest version)"
        return f"PHMS {minimum} or newer"

    def _load(self) -> ServerFacts:
        with self._ctx.db.session() as session:
            return server_facts(session)

    def _loaded(self, facts: ServerFacts) -> None:
        self.values["postgres"].setText(facts.server_version)
        self.values["schema"].setText(self._schema_text(facts.schema_revision))
        self.values["accepts"].setText(self._accepts_text(facts.min_client_version))
        self.values["database"].setText(facts.database)
        self.values["user"].setText(f"{facts.user} ({self._ctx.login.group})")
        self.status_label.setVisible(False)

    def _failed(self, exc: BaseException) -> None:
        self._ctx.connection.handle_error(exc)
        error = classify(exc, address=self._ctx.config.display_address())
        self.status_label.setText(
            f"Values from the login; the server could not be asked now: {error.title}."
        )

    def details(self) -> str:
        form_text = [f"{key}: {label.text()}" for key, label in self.values.items()]
        return "\n".join([f"PHMS {client_version()}", *form_text])

    def copy_details(self) -> None:
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(self.details())

    def done(self, result: int) -> None:
        self._ctx.tasks.cancel(self._key)
        super().done(result)
