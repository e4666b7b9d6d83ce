"""The patient list model, tested without a window (Vorta style) and with qtmodeltester."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QModelIndex, Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from phms_client.services.patients import PatientSummary
from phms_client.ui.patients.patient_model import (
    COL_AGE,
    COL_BORN,
    COL_CODE,
    COL_NAME,
    COL_SEX,
    COL_STATUS,
    PATIENT_ID_ROLE,
    PatientTableModel,
)
from phms_client.ui.patients.patient_search import count_text

TODAY = dt.date(2026, 11, 24)


def summaries(first: int, count: int) -> list[PatientSummary]:
    return [
        PatientSummary(
            id=i,
            patient_code=f"{i:07d}-{i % 10}",
            family_name="Müller" if i % 2 else "Núñez",
            given_name=f"Zoë {i}",
            sex="female" if i % 3 else "male",
            birth_date=dt.date(1950 + i % 40, 1 + i % 12, 1 + i % 28),
            status="deceased" if i % 7 == 0 else "active",
        )
        for i in range(first, first + count)
    ]


def make_model() -> PatientTableModel:
    return PatientTableModel(today=lambda: TODAY)


def test_empty_model_passes_modeltester(qtmodeltester: ModelTester) -> None:
    model = make_model()
    qtmodeltester.check(model)
    assert model.rowCount() == 0 and model.columnCount() == 6
    assert not model.canFetchMore(QModelIndex())


def test_rows_and_display_texts(qtmodeltester: ModelTester) -> None:
    model = make_model()
    rows = summaries(1, 3)
    model.set_rows(rows, has_more=False)
    qtmodeltester.check(model)
    assert model.rowCount() == 3
    text = [model.data(model.index(0, c)) for c in range(model.columnCount())]
    # Patient 1 was born 1951-02-02; on 24 Nov 2026 they are 75.
    assert text == ["0000001-1", "Müller, Zoë 1", "02.02.1951", "75", "Female", "Active"]
    assert model.data(model.index(2, COL_SEX)) == "Male"  # i=3
    assert model.data(model.index(1, COL_CODE), PATIENT_ID_ROLE) == 2
    assert "born 02.02.1951" in model.data(model.index(0, COL_NAME), Qt.ItemDataRole.ToolTipRole)
    assert model.headerData(COL_BORN, Qt.Orientation.Horizontal) == "Date of birth"
    assert model.row_of(3) == 2 and model.row_of(99) is None
    assert model.summary(1) == rows[1]


def test_deceased_has_no_running_age() -> None:
    model = make_model()
    model.set_rows(summaries(7, 1))
    assert model.data(model.index(0, COL_STATUS)) == "Deceased"
    assert model.data(model.index(0, COL_AGE)) == ""
    assert model.data(model.index(0, COL_AGE), Qt.ItemDataRole.ForegroundRole) is not None


def test_fetch_more_asks_the_controller_once_and_appends(
    qtmodeltester: ModelTester, qtbot: QtBot
) -> None:
    model = make_model()
    qtmodeltester.check(model)
    asked: list[int] = []
    model.fetch_more_requested.connect(asked.append)
    model.set_rows(summaries(1, 50), has_more=True)
    root = QModelIndex()
    # (The model tester itself calls fetchMore after every reset, like a view does.)
    model.fetchMore(root)
    model.fetchMore(root)  # the view may ask again before the page arrives
    assert asked == [50]
    assert not model.canFetchMore(root)
    with qtbot.waitSignal(model.rowsInserted) as inserted:
        model.append_rows(summaries(51, 50), has_more=True)
    assert inserted.args[1:] == [50, 99]
    assert model.rowCount() == 100
    model.fetchMore(root)
    assert asked == [50, 100]
    model.append_rows(summaries(101, 7), has_more=False)
    assert model.rowCount() == 107 and not model.canFetchMore(root)
    assert model.data(model.index(106, COL_CODE)) == "0000107-7"


def test_append_skips_rows_already_shown(qtmodeltester: ModelTester) -> None:
    """Another workstation inserted a patient: the next page overlaps the last one."""
    model = make_model()
    qtmodeltester.check(model)
    model.set_rows(summaries(1, 5), has_more=True)
    model.fetchMore(QModelIndex())
    model.append_rows(summaries(5, 3), has_more=False)
    assert [model.summary(r).id for r in range(model.rowCount())] == [1, 2, 3, 4, 5, 6, 7]


def test_failed_fetch_can_be_retried() -> None:
    model = make_model()
    asked: list[int] = []
    model.fetch_more_requested.connect(asked.append)
    model.set_rows(summaries(1, 2), has_more=True)
    model.fetchMore(QModelIndex())
    model.fetch_failed()
    model.fetchMore(QModelIndex())
    assert asked == [2, 2]


def test_reset_after_fetch(qtmodeltester: ModelTester) -> None:
    model = make_model()
    qtmodeltester.check(model)
    model.set_rows(summaries(1, 4), has_more=True)
    model.fetchMore(QModelIndex())
    model.set_rows(summaries(10, 2), has_more=False)  # a new query while a page was pending
    assert model.rowCount() == 2 and not model.canFetchMore(QModelIndex())
    model.clear()
    assert model.rowCount() == 0


def test_count_text() -> None:
    assert count_text(50, True) == "50+ patients"
    assert count_text(0, False) == "No patients found"
    assert count_text(1, False) == "1 patient"
    assert count_text(12, False) == "12 patients"
