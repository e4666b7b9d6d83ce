"""Tools > Error Check: run the check in the background, list the hits, open a record.

The check runs on the task runner (never on the GUI thread) with its progress
in steps and a Cancel button that stops the statement on the server
(:class:`~phms_client.services.error_check.CancelToken`). The result table's
model holds the rows it is given and never queries. Double-click (or Enter) on a
row emits :attr:`ErrorCheckWindow.open_record` with (patient id, record table,
record id); the main window opens the chart there.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final

import shiboken6
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from phms_client.db.errors import classify
from phms_client.reports.engine import format_day
from phms_client.services.error_check import (
    FIELDS,
    STEPS,
    Cancelled,
    CancelToken,
    ErrorCheckHit,
    ErrorCheckResult,
    run_error_check,
)
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.notices import add_connection_notice

__all__ = ["HIT_ROLE", "ErrorCheckModel", "ErrorCheckWindow", "may_run_error_check"]

HIT_ROLE: Final = Qt.ItemDataRole.UserRole + 1
RECORD_NAMES: Final = {
    "assessment": "Assessment",
    "six_minute_walk": "6-minute walk",
    "vasodilator_challenge": "Vasodilator challenge",
}
COLUMNS: Final = (
    "Patient ID",
    "Patient",
    "Date",
    "Record",
    "Field",
    "Value",
    "Mean (middle 75%)",
    "SD",
    "SDs away",
)
NUMERIC_COLUMNS: Final = frozenset({5, 6, 7, 8})


def may_run_error_check(ctx: AppContext) -> bool:
    """Clinicians and admins (others cannot read the clinical tables)."""
    return ctx.login.group in ("clinician", "admin")


def _show(value: Decimal, places: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP), "f")


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


Index = QModelIndex | QPersistentModelIndex


class ErrorCheckModel(QAbstractTableModel):
    """The hits, one per row (holds rows; never queries)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._hits: list[ErrorCheckHit] = []

    def set_hits(self, hits: Sequence[ErrorCheckHit]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self.endResetModel()

    def hit(self, row: int) -> ErrorCheckHit:
        return self._hits[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(COLUMNS)
        ):
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(hit, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in NUMERIC_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{hit.label} = {hit.value} is {_show(hit.n_sd, 1)} standard deviations from "
                f"the mean of the middle 75% of its {hit.n_values} values. "
                "Double-click to open the record."
            )
        if role == HIT_ROLE:
            return hit
        return None

    @staticmethod
    def _text(hit: ErrorCheckHit, column: int) -> str | None:
        places = _places(hit.value)
        texts = (
            hit.patient_code,
            hit.patient_name,
            format_day(hit.study_date),
            RECORD_NAMES.get(hit.record_table, hit.record_table),
            hit.label,
            format(hit.value, "f"),
            _show(hit.mean, places + 1),
            _show(hit.sd, places + 1),
            _show(hit.n_sd, 1),
        )
        return texts[column] if 0 <= column < len(texts) else None


class ErrorCheckWindow(QWidget):
    """The Error Check tool window (one per main window)."""

    #: The user wants to see a record: (patient id, record table, record id).
    open_record = Signal(int, str, int)
    #: A run ended: the :class:`ErrorCheckResult`, or None when cancelled or failed.
    finished = Signal(object)
    _progress = Signal(int, int, str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.result: ErrorCheckResult | None = None
        self._token: CancelToken | None = None
        self.setWindowTitle("PHMS — Error Check")
        threshold = ctx.login.settings.get("error_check_sd", 50)
        fields = sum(len(f) for f in FIELDS.values())
        self.intro = QLabel(
            f"Looks at {fields} measured fields of assessments, walks and vasodilator "
            "challenges. For every field with more than 10 values it takes the middle 75% "
            "(the lowest and highest 12.5% left out) and lists each value more than "
            f"<b>{threshold}</b> standard deviations from their mean — typically a unit or "
            "typing error. The threshold is the Error Check setting in Preferences."
        )
        self.intro.setWordWrap(True)
        self.run_button = QPushButton("&Run check")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("&Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, len(STEPS))
        self.progress.setValue(0)
        self.progress.setFormat("%v of %m steps")
        self.status = QLabel("Not run yet.")
        self.status.setWordWrap(True)
        self.status.setObjectName("error_check_status")

        self.model = ErrorCheckModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Values to check")
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(self._activate)
        self.table.activated.connect(self._activate)

        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        self.close_button = QPushButton("C&lose")
        self.close_button.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addLayout(bottom)
        self.connection_notice = add_connection_notice(ctx, self)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Close), self, self.close)
        self._progress.connect(self._show_progress)
        self.resize(920, 520)

    # ----------------------------------------------------------------- public

    @property
    def running(self) -> bool:
        return self._token is not None

    def start(self) -> None:
        if self.running:
            return
        token = CancelToken()
        self._token = token
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.status.setText("Checking…")
        db = self.ctx.db
        progress = self._progress

        def report(done: int, total: int, step: str) -> None:
            if shiboken6.isValid(self):
                progress.emit(done, total, step)

        def job() -> ErrorCheckResult:
            with db.session(long_running=True) as session:
                return run_error_check(session, progress=report, cancel=token)

        self.ctx.tasks.run(
            job, on_success=self._done, on_error=self._failed, key=("error_check", id(self))
        )

    def cancel(self) -> None:
        """Stop the running check (the statement is cancelled on the server)."""
        token = self._token
        if token is None:
            return
        self.cancel_button.setEnabled(False)
        self.status.setText("Cancelling…")
        # The cancel request is a short network call: never on the GUI thread.
        threading.Thread(target=token.cancel, name="error-check-cancel", daemon=True).start()

    # -------------------------------------------------------------- internals

    def _show_progress(self, done: int, total: int, step: str) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)
        if step and self._token is not None and not self._token.cancelled:
            self.status.setText(f"{step}…")

    def _idle(self) -> None:
        self._token = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _done(self, result: ErrorCheckResult) -> None:
        self._idle()
        self.result = result
        self.model.set_hits(result.hits)
        n = len(result.hits)
        if n == 0:
            text = (
                f"No value is more than {result.threshold_sd} SD from its field "
                f"({result.fields_checked} fields had enough values to check)."
            )
        else:
            text = (
                f"{n} value{'s' if n != 1 else ''} more than {result.threshold_sd} SD from "
                f"its field ({result.fields_checked} fields checked). Double-click a row to "
                "open the record."
            )
        self.status.setText(text)
        self.finished.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self._idle()
        if isinstance(exc, Cancelled):
            self.status.setText("Cancelled. Nothing was changed.")
            self.progress.setValue(0)
        else:
            error = classify(exc, address=self.ctx.db.address)
            self.status.setText(f"<b>{error.title}.</b> {error.message}")
        self.finished.emit(None)

    def _activate(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        hit = self.model.hit(index.row())
        self.open_record.emit(hit.patient_id, hit.record_table, hit.record_id)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:  # as in any dialog
            self.close()
            return
        super().keyPressEvent(event)

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        super().closeEvent(event)
