"""The registry's format check: an allow-list, with the place and the fault in the message.

Both accepted versions: the current batch (export /3, declared ``generalisation``)
and the previous one (export /2, top-level ``birth_year_band``).
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from typing import Any

import pytest

from phms_registry.validate import SchemaError, validate
from phms_schema.registry_format import BATCH_FORMAT, FORMAT

KEY = "0123456789abcdef" * 4


def legacy_batch(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "format": "phms-registry-batch/1",
        "export_format": "phms-registry-export/2",
        "batch_id": str(uuid.uuid4()),
        "hospital_id": "RBH",
        "generated_on": "2026-12-03",
        "ph_only": True,
        "dates_shifted": False,
        "birth_year_band": 1,
        "patients": [
            {
                "patient_key": KEY,
                "birth_year": 1958,
                "sex": "female",
                "ph_group": 1,
                "ph_subtype": "idiopathic",
                "status": "active",
                "deceased_date": None,
                "records": [
                    {"type": "assessment", "no": 1, "date": "2025-01-02", "who_fc": 3,
                     "pvr_wu": 9.0244, "risk_label": "intermediate-high"},
                    {"type": "medication", "no": 1, "date": "2025-01-03", "name": "sildenafil",
                     "stopped_on": None},
                ],
            }
        ],
        "removed": ["f" * 64],
    }  # fmt: skip
    body.update(changes)
    return body


def batch(birth_year_band: int = 1, ph_subtype_kept: bool = True, **changes: Any) -> dict[str, Any]:
    """The current version: the same patient, the generalisation declared."""
    body = legacy_batch()
    del body["birth_year_band"]
    body["format"], body["export_format"] = BATCH_FORMAT, FORMAT
    body["generalisation"] = {
        "birth_year_band": birth_year_band,
        "ph_subtype_kept": ph_subtype_kept,
    }
    body.update(changes)
    return body


def test_a_batch_of_the_format_passes() -> None:
    validate(batch(), today=dt.date(2026, 12, 3))
    validate(legacy_batch(), today=dt.date(2026, 12, 3))


def test_generalised_values_pass_when_declared() -> None:
    body = batch(5, False)
    body["patients"][0].update(birth_year="1955-1959", ph_subtype=None)
    validate(body, today=dt.date(2026, 12, 3))
    body = batch(10)
    body["patients"][0]["birth_year"] = "1950-1959"
    validate(body, today=dt.date(2026, 12, 3))
    # The previous version: the first year of the band, a number.
    validate(legacy_batch(birth_year_band=5, patients=[{**body["patients"][0],
             "birth_year": 1955}]), today=dt.date(2026, 12, 3))  # fmt: skip


def generalised_with(band: int, kept: bool = True, **changes: Any) -> dict[str, Any]:
    body = batch(band, kept)
    body["patients"][0].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (generalised_with(5), r"birth_year: expected a 5-year band such as \"1960-1964\""),
        (generalised_with(5, birth_year="1957-1961"), "starts at a multiple of 5"),
        (generalised_with(5, birth_year="1955-1964"), "not a 5-year band"),
        (generalised_with(10, birth_year="1955-1959"), "not a 10-year band"),
        (generalised_with(1, birth_year="1955-1959"), "expected the year"),
        (generalised_with(5, birth_year="2995-2999"), "birth_year: expected a whole number"),
        (generalised_with(1, False), "ph_subtype: must be null: the batch declares"),
        (batch(generalisation={"birth_year_band": 5}), "missing field.*ph_subtype_kept"),
        (batch(generalisation={"birth_year_band": 3, "ph_subtype_kept": True}), "one of"),
        (batch(generalisation={"birth_year_band": 1, "ph_subtype_kept": "no"}), "true or false"),
        (batch(generalisation={"birth_year_band": 1, "ph_subtype_kept": True, "postcode": 2}),
         "not in the export format: postcode"),
        ({**batch(), "birth_year_band": 1}, "not in the export format: birth_year_band"),
        (batch(export_format="phms-registry-export/2"), "batch.format: expected"),
        (legacy_batch(export_format="phms-registry-export/3"), "batch.format"),
        (legacy_batch(generalisation={}), "not in the export format: generalisation"),
        (legacy_batch(birth_year_band=5), "the first year of a 5-year band"),
    ],
)  # fmt: skip
def test_generalisation_faults_are_named(body: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        validate(body, today=dt.date(2026, 12, 3))


def patient_with(**changes: Any) -> dict[str, Any]:
    body = batch()
    body["patients"][0].update(changes)
    return body


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (batch(format="other"), "batch.format"),
        (batch(extra=1), "not in the export format: extra"),
        (batch(batch_id="nope"), "batch_id: expected a UUID"),
        (batch(hospital_id=""), "hospital_id"),
        (legacy_batch(birth_year_band=3), "birth_year_band"),
        (batch(format=["not", "text"]), "batch.format"),
        (batch(ph_only="yes"), "ph_only"),
        (patient_with(family_name="Smith"), r"patients\[0\]: field\(s\) not in the export format"),
        (patient_with(patient_key="1234567-8"), "patient_key"),
        (patient_with(birth_year=1958.5), "birth_year"),
        (patient_with(birth_year=2999), "birth_year"),
        (patient_with(sex="f"), "sex"),
        (patient_with(ph_group=6), "ph_group"),
        (patient_with(status="gone"), "status"),
        (patient_with(deceased_date="03/12/2026"), "deceased_date: not a date"),
        (batch(removed=[KEY]), r"removed\[0\]: a key both sent and removed"),
    ],
)
def test_faults_are_named(body: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        validate(body, today=dt.date(2026, 12, 3))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"type": "diary"}, r"records\[0\]: a record's type"),
        ({"comment": "rang her daughter"}, "not in the export format: comment"),
        ({"who_fc": "x" * 101}, "short text"),
        ({"who_fc": {"nested": 1}}, "who_fc"),
        ({"date": "yesterday"}, "date: not a date"),
        ({"no": 0}, r"records\[0\]\.no"),
    ],
)
def test_record_faults_are_named(change: dict[str, Any], message: str) -> None:
    body = copy.deepcopy(batch())
    body["patients"][0]["records"][0].update(change)
    with pytest.raises(SchemaError, match=message):
        validate(body, today=dt.date(2026, 12, 3))


def test_a_patient_sent_twice_is_refused() -> None:
    body = batch(removed=[])
    body["patients"].append(copy.deepcopy(body["patients"][0]))
    with pytest.raises(SchemaError, match=r"patients\[1\]: this patient key appears twice"):
        validate(body)
