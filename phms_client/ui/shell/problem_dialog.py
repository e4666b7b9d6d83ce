"""Help > Report a problem: a description plus what IT needs, and nothing else.

The dialog shows, before anything is sent, exactly what the report will contain:
the description, version numbers, the computer's platform and the last lines of
the client's in-memory log (which never holds patient data). The report is stored
in ``phms.problem_report`` (:func:`phms_client.services.about.report_problem`);
admins read it with ``phms-admin problems list``.
"""

from __future__ import annotations

import platform

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from phms_client import logbuffer
from phms_client.db.errors import classify
from phms_client.services.about import report_problem
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.notices import add_connection_notice
from phms_client.ui.shared.text_limits import limit_text
from phms_client.version import client_version

__all__ = ["LOG_LINES", "ProblemDialog"]

#: How many of the last log lines go with a report.
LOG_LINES = 200


class ProblemDialog(QDialog):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("PHMS — Report a problem")
        self._ctx = ctx
        self._key = ("report-problem", id(self))
        # Taken once, so that what is shown is exactly what is sent.
        self.log_tail = "\n".join(list(logbuffer.MEMORY_LOG.lines)[-LOG_LINES:])
        self.platform = platform.platform()
        self.sent = False

        intro = QLabel(
            "Describe what you did and what went wrong. Please do <b>not</b> write "
            "patient names or other patient details here."
        )
        intro.setWordWrap(True)
        self.description_edit = QPlainTextEdit()
        self.description_edit.setPlaceholderText(
            "e.g. “After saving a follow-up, the list did not update until I restarted.”"
        )
        self.description_edit.setMinimumHeight(80)
        self.description_hint = limit_text(self.description_edit, "problem_report", "description")
        self.description_edit.setAccessibleName("What went wrong")
        self.description_edit.setMaximumHeight(130)
        self.description_edit.textChanged.connect(self._update_preview)

        sent_label = QLabel("<b>What will be sent</b> (stored on the clinic's server for IT):")
        self.preview = QPlainTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setAccessibleName("What will be sent")
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.preview.setMinimumHeight(200)

        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setVisible(False)

        # Made in the order they stand, which is the order Tab takes.
        self.buttons = QDialogButtonBox()
        self.send_button = self.buttons.addButton(
            "&Send report", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.send)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.description_edit)
        layout.addSpacing(6)
        layout.addWidget(sent_label)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.connection_notice = add_connection_notice(ctx, self)
        self.resize(680, 560)
        self._update_preview()
        self.description_edit.setFocus()

    @property
    def description(self) -> str:
        return self.description_edit.toPlainText().strip()

    def preview_text(self) -> str:
        info = self._ctx.login
        lines = [
            f"Description:     {self.description or '(not written yet)'}",
            f"Reported by:     {info.user} (filled in by the server)",
            f"Client version:  {client_version()}",
            f"Server version:  PostgreSQL {info.server_version}",
            f"Schema revision: {info.schema_revision}",
            f"Computer:        {self.platform}",
            f"Log (last {LOG_LINES} lines of this session):",
            self.log_tail or "(empty)",
        ]
        return "\n".join(lines)

    def _update_preview(self) -> None:
        bar = self.preview.verticalScrollBar()
        position = bar.value()
        self.preview.setPlainText(self.preview_text())
        bar.setValue(position)

    def _show_message(self, text: str, *, error: bool) -> None:
        self.message_label.setStyleSheet("color: #b71c1c;" if error else "color: #1b5e20;")
        self.message_label.setText(text)
        self.message_label.setVisible(True)

    def send(self) -> None:
        description = self.description
        if not description:
            self._show_message("Please describe the problem first.", error=True)
            self.description_edit.setFocus()
            return
        version, log_tail, db = client_version(), self.log_tail, self._ctx.db

        def work() -> None:
            with db.session() as session:
                report_problem(
                    session, description=description, client_version=version, log_tail=log_tail
                )

        self.send_button.setEnabled(False)
        self._show_message("Sending…", error=False)
        self._ctx.tasks.run(work, on_success=self._sent, on_error=self._failed, key=self._key)

    def _sent(self, _none: None) -> None:
        self.sent = True
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self.send_button.setEnabled(True)
        self._ctx.connection.handle_error(exc)
        error = classify(exc, address=self._ctx.config.display_address())
        self._show_message(
            f"The report could not be sent: {error.title}. {error.message}", error=True
        )

    def done(self, result: int) -> None:
        if result != QDialog.DialogCode.Accepted:
            self._ctx.tasks.cancel(self._key)
        super().done(result)
