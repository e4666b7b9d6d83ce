"""Preferences > Registry upload: the daily upload's last success and last error (read-only).

The upload itself runs on the server (``phms-admin registry-upload``, a daily
systemd timer); this panel only shows what it logged in the database, so an
admin sees a failing upload without logging in to the server. Admins only: the
upload state is not readable by other roles (the dialog adds the tab for admins).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from phms_client.db.errors import classify
from phms_client.services import registry_upload
from phms_client.services.registry_upload import UploadStatus
from phms_client.ui.shared.context import AppContext

HINT = (
    "The anonymised registry data is uploaded once a day by the server "
    "(phms-admin registry-upload, scheduled by the server installer). Nothing can be "
    "changed here; see the admin guide, “Registry upload”."
)


class RegistryUploadPanel(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._ctx = ctx
        self._key = ("registry-upload-status", id(self))
        self.success_label = QLabel("Loading…")
        self.error_label = QLabel()
        self.other_label = QLabel()
        for label in (self.success_label, self.error_label, self.other_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setTextFormat(Qt.TextFormat.RichText)
        hint = QLabel(HINT)
        hint.setWordWrap(True)
        hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.refresh_button = QPushButton("&Refresh")
        self.refresh_button.clicked.connect(self.load)
        layout = QVBoxLayout(self)
        for widget in (self.success_label, self.error_label, self.other_label, hint):
            layout.addWidget(widget)
        layout.addStretch(1)
        layout.addWidget(self.refresh_button, 0, Qt.AlignmentFlag.AlignRight)
        self.load()

    def load(self) -> None:
        db = self._ctx.db

        def fetch() -> UploadStatus:
            with db.session() as session:
                return registry_upload.status(session)

        self._ctx.tasks.run(
            fetch, on_success=self.show_status, on_error=self._failed, key=self._key
        )

    def show_status(self, status: UploadStatus) -> None:
        success, error, *other = registry_upload.describe(status)
        self.success_label.setText(success)
        failing = status.last_error is not None and (
            status.last_success is None
            or status.last_error.finished_at > status.last_success.finished_at
        )
        colour = "#b71c1c" if failing else "palette(text)"
        self.error_label.setText(f'<span style="color: {colour}">{html.escape(error)}</span>')
        self.other_label.setText("\n".join(other))
        self.other_label.setVisible(bool(other))

    def _failed(self, exc: BaseException) -> None:
        if self._ctx.connection.handle_error(exc):
            self.success_label.setText("The server cannot be reached; the status is not shown.")
            return
        error = classify(exc, address=self._ctx.config.display_address())
        self.success_label.setText(f"{error.title}: {error.message}")
