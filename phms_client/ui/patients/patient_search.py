"""Search as you type: debounced queries through the task runner into the list model.

The controller owns no rows; it asks :func:`phms_client.services.patients.search`
for one page at a time and hands the rows to :class:`PatientTableModel`. A newer
query supersedes the older one by task key, so a slow stale answer never replaces
a fresh one.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from PySide6.QtCore import QObject, QTimer, Signal

from phms_client.db.errors import ErrorKind, classify
from phms_client.services import patients
from phms_client.services.patients import PAGE_SIZE, PatientSummary
from phms_client.ui.patients.patient_model import PatientTableModel
from phms_client.ui.shared.context import AppContext
from phms_client.ui.shared.guard import while_alive

__all__ = ["DEBOUNCE_MS", "LIVE_REFRESH_MS", "PatientSearch", "count_text"]

log = logging.getLogger(__name__)

DEBOUNCE_MS: Final = 250
#: Several NOTIFYs in a burst (an import, a colleague saving twice) cause one refresh.
LIVE_REFRESH_MS: Final = 150


def count_text(count: int, has_more: bool) -> str:
    if has_more:
        return f"{count}+ patients"
    if count == 0:
        return "No patients found"
    return "1 patient" if count == 1 else f"{count} patients"


class PatientSearch(QObject):
    """Runs the list's queries; emits :attr:`status_changed` with what to show."""

    #: Rows were replaced (new query or refresh) — the view may restore its selection.
    results_replaced = Signal()
    #: A short text for the status bar: "50+ patients", "No patients found", an error.
    status_changed = Signal(str)

    def __init__(self, ctx: AppContext, model: PatientTableModel, parent: QObject | None = None):
        super().__init__(parent)
        self._ctx = ctx
        self._model = model
        self._typed = ""
        self._query = ""  # the query whose rows the model holds (or is loading)
        self._generation = 0
        self._loading = False
        self._stopped = False
        self._key = ("patient-search", id(self))
        self._more_key = ("patient-search-more", id(self))
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.search_now())
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_REFRESH_MS)
        self._live_timer.timeout.connect(self.refresh)
        model.fetch_more_requested.connect(self._fetch_more)
        ctx.live.changed.connect(self._on_live_change)
        ctx.connection.online_changed.connect(self._on_online_changed)

    # ----------------------------------------------------------------- public

    @property
    def query(self) -> str:
        """The query the list shows (after the debounce)."""
        return self._query

    @property
    def loading(self) -> bool:
        return self._loading

    def server_text(self, query: str) -> str:
        """A complete patient ID typed without its dash ("12345678") is searched as the
        ID it is ("1234567-8"); dates and everything else as typed."""
        if patients.parse_date(query) is not None:
            return query
        fmt = self._ctx.login.settings.patient_id_format
        code = fmt.normalise(query)
        return code if fmt.is_valid(code) else query

    def set_text(self, text: str) -> None:
        """The search box changed: search once typing pauses."""
        self._typed = text
        self._debounce.start()

    def search_now(self, *, force: bool = False) -> None:
        """Search for the typed text now; ``force`` repeats an unchanged query."""
        self._debounce.stop()
        text = self._typed.strip()
        if text == self._query and not force:
            return  # nothing new (e.g. a trailing space)
        self._query = text
        self._load(limit=PAGE_SIZE)

    def refresh(self) -> None:
        """Re-run the current query, keeping as many rows as are loaded now."""
        self._live_timer.stop()
        if self._query:
            self._load(limit=max(PAGE_SIZE, self._model.rowCount()))

    def cancel(self) -> None:
        """Drop pending work (the answers of queries still running are ignored)."""
        self._debounce.stop()
        self._live_timer.stop()
        self._ctx.tasks.cancel(self._key)
        self._ctx.tasks.cancel(self._more_key)
        self._loading = False

    def stop(self) -> None:
        """The window closes: cancel, and react to nothing any more."""
        self.cancel()
        if not self._stopped:
            self._stopped = True
            self._ctx.live.changed.disconnect(self._on_live_change)
            self._ctx.connection.online_changed.disconnect(self._on_online_changed)

    # ----------------------------------------------------------------- work

    def _load(self, *, limit: int) -> None:
        if self._stopped:
            return
        self._generation += 1
        self._ctx.tasks.cancel(self._more_key)
        query = self._query
        if not query:
            self._ctx.tasks.cancel(self._key)
            self._loading = False
            self._model.clear()
            self.results_replaced.emit()
            self.status_changed.emit("")
            return
        db = self._ctx.db
        generation = self._generation
        asked = self.server_text(query)

        def work() -> list[PatientSummary]:
            with db.session() as s:  # one row more than shown tells whether there are more
                return patients.search(s, asked, offset=0, limit=limit + 1)

        self._loading = True
        self._ctx.tasks.run(
            work,
            on_success=while_alive(self, lambda rows: self._replace(generation, rows, limit)),
            on_error=while_alive(self, lambda exc: self._failed(generation, exc)),
            key=self._key,
        )

    def _replace(self, generation: int, rows: list[PatientSummary], limit: int) -> None:
        if generation != self._generation:
            return
        self._loading = False
        self._model.set_rows(rows[:limit], has_more=len(rows) > limit)
        self.results_replaced.emit()
        self._emit_count()

    def _fetch_more(self, offset: int) -> None:
        if self._loading or not self._query or self._stopped:
            self._model.fetch_failed()  # a fresh first page is on its way anyway
            return
        db, generation = self._ctx.db, self._generation
        asked = self.server_text(self._query)

        def work() -> list[PatientSummary]:
            with db.session() as s:
                return patients.search(s, asked, offset=offset, limit=PAGE_SIZE + 1)

        def done(rows: list[PatientSummary]) -> None:
            if generation != self._generation:
                return
            self._model.append_rows(rows[:PAGE_SIZE], has_more=len(rows) > PAGE_SIZE)
            self._emit_count()

        def failed(exc: BaseException) -> None:
            if generation == self._generation:
                self._model.fetch_failed()
                self._report(exc)

        self._ctx.tasks.run(
            work,
            on_success=while_alive(self, done),
            on_error=while_alive(self, failed),
            key=self._more_key,
        )

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._loading = False
        self._report(exc)

    def _report(self, exc: BaseException) -> None:
        if self._ctx.connection.handle_error(exc):
            self.status_changed.emit(
                "Connection to the server lost — the search works again once PHMS reconnects."
            )
            return
        error = classify(exc, address=self._ctx.db.address)
        if error.kind is ErrorKind.BUSY:  # one status-bar line, not the long explanation
            log.warning("patient search: %s", error.detail)
            self.status_changed.emit(
                "The server is busy, so the search stopped waiting. Please try again in a moment."
            )
            return
        if error.kind is ErrorKind.UNKNOWN:
            log.error("patient search failed: %s", error.detail, exc_info=exc)
        self.status_changed.emit(f"Search failed: {error.message}")

    def _emit_count(self) -> None:
        self.status_changed.emit(count_text(self._model.rowCount(), self._model.has_more))

    # ----------------------------------------------------------------- signals

    def _on_live_change(self, payload: dict[str, Any]) -> None:
        if payload.get("table") == "patient" and self._query:
            self._live_timer.start()

    def _on_online_changed(self, online: bool) -> None:
        if online and self._query:
            self.refresh()
