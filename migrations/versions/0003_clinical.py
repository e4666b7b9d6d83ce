"""Clinical records: assessments, vasodilator challenges, walks, chart items.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24

A frozen snapshot: plausible ranges and seeded settings are literal values here
(the forms' copy is phms_client.clinical.ranges; a test compares both through
pg_constraint).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from phms_schema import ddl, ddl_clinical
from phms_schema.roles import OWNER

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANGES = {
    "assessment": {
        "who_fc": ("1", "4"),
        "height_cm": ("30", "250"),
        "weight_kg": ("1", "400"),
        "heart_rate_bpm": ("20", "250"),
        "spo2_pct": ("40", "100"),
        "bnp_pg_ml": ("0", "50000"),
        "nt_probnp_pg_ml": ("0", "100000"),
        "creatinine_umol_l": ("5", "3000"),
        "tapse_mm": ("1", "60"),
        "ra_area_cm2": ("1", "100"),
        "rap_mmhg": ("-5", "40"),
        "spap_mmhg": ("0", "250"),
        "dpap_mmhg": ("0", "150"),
        "mpap_mmhg": ("0", "150"),
        "pawp_mmhg": ("0", "60"),
        "co_l_min": ("0.5", "20"),
        "svo2_pct": ("10", "100"),
        "rhc_heart_rate_bpm": ("20", "250"),
    },
    "vasodilator_step": {
        "mpap_mmhg": ("0", "150"),
        "pawp_mmhg": ("0", "60"),
        "co_l_min": ("0.5", "20"),
        "spap_mmhg": ("0", "250"),
        "dpap_mmhg": ("0", "150"),
        "heart_rate_bpm": ("20", "250"),
        "svo2_pct": ("10", "100"),
    },
    "six_minute_walk": {
        "oxygen_l_min": ("0.1", "15"),
        "distance_m": ("0", "1000"),
        "stops": ("0", "50"),
        "spo2_before_pct": ("40", "100"),
        "spo2_after_pct": ("40", "100"),
        "heart_rate_before_bpm": ("20", "250"),
        "heart_rate_after_bpm": ("20", "250"),
        "borg_before": ("0", "10"),
        "borg_after": ("0", "10"),
    },
}

SETTINGS = [
    {
        "key": "vasodilator_agents",
        "value_type": "list",
        "description": "Vasodilator challenge agents: name, dose unit and the dose steps offered.",
        "value": [
            {"name": "inhaled nitric oxide", "unit": "ppm", "doses": [10, 20, 40]},
            {"name": "IV epoprostenol", "unit": "ng/kg/min", "doses": [2, 4, 6, 8, 10, 12]},
            {
                "name": "IV adenosine",
                "unit": "µg/kg/min",
                "doses": [50, 100, 150, 200, 250, 300, 350],
            },
            {"name": "inhaled iloprost", "unit": "µg", "doses": [5, 10]},
        ],
    },
    {
        "key": "pah_medicines",
        "value_type": "list",
        "description": "PAH medicines offered in the medication pick list (free text allowed).",
        "value": [
            "bosentan",
            "ambrisentan",
            "macitentan",
            "sildenafil",
            "tadalafil",
            "riociguat",
            "epoprostenol",
            "treprostinil",
            "iloprost",
            "selexipag",
            "sotatercept",
            "nifedipine",
            "diltiazem",
            "amlodipine",
        ],
    },
    {
        "key": "ph_groups",
        "value_type": "list",
        "description": "PH clinical groups (ESC/ERS 2022) and their subtypes.",
        "value": [
            {
                "group": 1,
                "name": "Pulmonary arterial hypertension (PAH)",
                "subtypes": [
                    "idiopathic",
                    "heritable",
                    "drug- or toxin-associated",
                    "associated with connective tissue disease",
                    "associated with HIV infection",
                    "associated with portal hypertension",
                    "associated with congenital heart disease",
                    "associated with schistosomiasis",
                    "long-term responder to calcium channel blockers",
                    "with features of venous/capillary involvement (PVOD/PCH)",
                ],
            },
            {"group": 2, "name": "PH associated with left heart disease", "subtypes": []},
            {
                "group": 3,
                "name": "PH associated with lung diseases and/or hypoxia",
                "subtypes": [],
            },
            {
                "group": 4,
                "name": "PH associated with pulmonary artery obstructions (CTEPH and other)",
                "subtypes": [],
            },
            {
                "group": 5,
                "name": "PH with unclear and/or multifactorial mechanisms",
                "subtypes": [],
            },
        ],
    },
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False)


def _patient_id() -> sa.Column[int]:
    return sa.Column("patient_id", sa.BigInteger(), nullable=False)


def _num(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(), nullable=nullable)


def _derived(name: str, sql: str, type_: sa.types.TypeEngine[object]) -> sa.Column[object]:
    return sa.Column(name, type_, sa.Computed(sql, persisted=True), nullable=True)


def _tail(table: str, *, patient: bool = True) -> list[sa.SchemaItem]:
    """Entered-in-error and audit columns, their checks, primary and foreign key."""
    items: list[sa.SchemaItem] = [
        sa.Column(
            "entered_in_error", sa.Boolean(), server_default=sa.text("false"), nullable=False
        ),
        sa.Column("error_reason", sa.Text(), nullable=True),
        sa.Column("error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_by", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("created_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Text(), server_default=sa.text("SESSION_USER"), nullable=False),
        sa.CheckConstraint(
            "NOT entered_in_error OR coalesce(btrim(error_reason), '') <> ''",
            name="error_reason_required",
        ),
        sa.CheckConstraint(
            "entered_in_error OR error_reason IS NULL", name="error_reason_only_when_in_error"
        ),
        sa.CheckConstraint(
            "entered_in_error = (error_at IS NOT NULL AND error_by IS NOT NULL)",
            name="error_stamps_consistent",
        ),
        *(
            sa.CheckConstraint(f"{column} BETWEEN {low} AND {high}", name=f"{column}_range")
            for column, (low, high) in RANGES.get(table, {}).items()
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
    ]
    if patient:
        items.append(
            sa.ForeignKeyConstraint(
                ["patient_id"], ["phms.patient.id"], name=f"fk_{table}_patient_id_patient"
            )
        )
    return items


def _create_assessment() -> None:
    body = "CASE WHEN height_cm > 0 AND weight_kg > 0 THEN {} ELSE NULL END"
    bsa = "sqrt(height_cm * weight_kg / 3600)"
    op.create_table(
        "assessment",
        _id(),
        _patient_id(),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("study_date", sa.Date(), nullable=False),
        sa.Column("who_fc", sa.SmallInteger(), nullable=True),
        *(_num(n) for n in ("height_cm", "weight_kg", "heart_rate_bpm", "spo2_pct")),
        *(_num(n) for n in ("bnp_pg_ml", "nt_probnp_pg_ml", "creatinine_umol_l")),
        _num("tapse_mm"),
        _num("ra_area_cm2"),
        sa.Column("pericardial_effusion", sa.Boolean(), nullable=True),
        *(
            _num(n)
            for n in (
                "rap_mmhg",
                "spap_mmhg",
                "dpap_mmhg",
                "mpap_mmhg",
                "pawp_mmhg",
                "co_l_min",
                "svo2_pct",
                "rhc_heart_rate_bpm",
            )
        ),
        _derived("bsa_m2", body.format(bsa), sa.Numeric()),
        _derived("cardiac_index_l_min_m2", body.format(f"co_l_min / {bsa}"), sa.Numeric()),
        _derived("tpg_mmhg", "mpap_mmhg - pawp_mmhg", sa.Numeric()),
        _derived("dpg_mmhg", "dpap_mmhg - pawp_mmhg", sa.Numeric()),
        _derived("pvr_wu", "(mpap_mmhg - pawp_mmhg) / NULLIF(co_l_min, 0)", sa.Numeric()),
        _derived(
            "pvr_dyn_s_cm5", "(mpap_mmhg - pawp_mmhg) * 80 / NULLIF(co_l_min, 0)", sa.Numeric()
        ),
        _derived(
            "ph_class",
            "CASE"
            " WHEN mpap_mmhg IS NULL THEN NULL"
            " WHEN mpap_mmhg <= 20 THEN 'no PH'"
            " WHEN pawp_mmhg IS NULL OR co_l_min IS NULL THEN NULL"
            " WHEN pawp_mmhg <= 15 AND mpap_mmhg - pawp_mmhg > 2 * co_l_min THEN 'pre-capillary'"
            " WHEN pawp_mmhg <= 15 THEN 'unclassified'"
            " WHEN mpap_mmhg - pawp_mmhg > 2 * co_l_min THEN 'combined post- and pre-capillary'"
            " ELSE 'isolated post-capillary'"
            " END",
            sa.Text(),
        ),
        sa.CheckConstraint("kind IN ('assessment', 'followup')", name="kind_known"),
        sa.CheckConstraint(
            "(dpap_mmhg IS NULL OR mpap_mmhg IS NULL OR dpap_mmhg <= mpap_mmhg)"
            " AND (mpap_mmhg IS NULL OR spap_mmhg IS NULL OR mpap_mmhg <= spap_mmhg)"
            " AND (dpap_mmhg IS NULL OR spap_mmhg IS NULL OR dpap_mmhg <= spap_mmhg)",
            name="valid_pressure_order",
        ),
        *_tail("assessment"),
        schema="phms",
    )
    op.create_index(
        "ix_assessment_patient_id_study_date",
        "assessment",
        ["patient_id", "study_date"],
        schema="phms",
    )


def _create_vasodilator() -> None:
    op.create_table(
        "vasodilator_challenge",
        _id(),
        _patient_id(),
        sa.Column("study_date", sa.Date(), nullable=False),
        *_tail("vasodilator_challenge"),
        schema="phms",
    )
    op.create_index(
        "ix_vasodilator_challenge_patient_id_study_date",
        "vasodilator_challenge",
        ["patient_id", "study_date"],
        schema="phms",
    )
    op.create_table(
        "vasodilator_step",
        _id(),
        sa.Column("challenge_id", sa.BigInteger(), nullable=False),
        sa.Column("step_no", sa.SmallInteger(), nullable=False),
        sa.Column("agent", sa.Text(), nullable=True),
        _num("dose"),
        sa.Column("dose_unit", sa.Text(), nullable=True),
        _num("mpap_mmhg", nullable=False),
        *(_num(n) for n in ("pawp_mmhg", "co_l_min", "spap_mmhg", "dpap_mmhg", "heart_rate_bpm")),
        _num("svo2_pct"),
        sa.CheckConstraint("step_no BETWEEN 0 AND 30", name="step_no_valid"),
        sa.CheckConstraint("(step_no = 0) = (agent IS NULL)", name="baseline_has_no_agent"),
        sa.CheckConstraint(
            "(agent IS NULL) = (dose IS NULL) AND (agent IS NULL) = (dose_unit IS NULL)",
            name="agent_dose_unit_together",
        ),
        sa.CheckConstraint("dose > 0", name="dose_positive"),
        sa.CheckConstraint(
            "(dpap_mmhg IS NULL OR dpap_mmhg <= mpap_mmhg)"
            " AND (spap_mmhg IS NULL OR mpap_mmhg <= spap_mmhg)",
            name="valid_pressure_order",
        ),
        *_tail("vasodilator_step", patient=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["phms.vasodilator_challenge.id"],
            name="fk_vasodilator_step_challenge_id_vasodilator_challenge",
        ),
        schema="phms",
    )
    op.create_index(
        "uq_vasodilator_step_live_step_no",
        "vasodilator_step",
        ["challenge_id", "step_no"],
        unique=True,
        schema="phms",
        postgresql_where=sa.text("NOT entered_in_error"),
    )


def _create_walk() -> None:
    op.create_table(
        "six_minute_walk",
        _id(),
        _patient_id(),
        sa.Column("study_date", sa.Date(), nullable=False),
        _num("oxygen_l_min"),
        _num("distance_m", nullable=False),
        sa.Column("stops", sa.SmallInteger(), nullable=True),
        *(
            _num(n)
            for n in (
                "spo2_before_pct",
                "spo2_after_pct",
                "heart_rate_before_bpm",
                "heart_rate_after_bpm",
                "borg_before",
                "borg_after",
            )
        ),
        *_tail("six_minute_walk"),
        schema="phms",
    )
    op.create_index(
        "ix_six_minute_walk_patient_id_study_date",
        "six_minute_walk",
        ["patient_id", "study_date"],
        schema="phms",
    )


def _create_item(table: str) -> None:
    op.create_table(
        table,
        _id(),
        _patient_id(),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("stopped_on", sa.Date(), nullable=True),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("length(btrim(name)) > 0", name="name_present"),
        sa.CheckConstraint(
            "stopped_on IS NULL OR stopped_on >= started_on", name="stopped_after_started"
        ),
        sa.CheckConstraint(
            "stopped_on IS NULL OR coalesce(btrim(stop_reason), '') <> ''",
            name="stop_reason_required",
        ),
        sa.CheckConstraint(
            "stopped_on IS NOT NULL OR stop_reason IS NULL", name="stop_reason_only_when_stopped"
        ),
        *_tail(table),
        schema="phms",
    )
    op.create_index(f"ix_{table}_patient_id", table, ["patient_id"], schema="phms")


def upgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    _create_assessment()
    _create_vasodilator()
    _create_walk()
    for table in ddl_clinical.ITEM_TABLES:
        _create_item(table)
    _run(ddl_clinical.create_functions())
    _run(ddl_clinical.create_triggers())
    for table in ddl_clinical.TABLES:
        _run(ddl.audited_table(table))
    _run(ddl_clinical.create_views())
    settings = sa.table(
        "setting",
        sa.column("key", sa.Text()),
        sa.column("value", postgresql.JSONB()),
        sa.column("value_type", sa.Text()),
        sa.column("description", sa.Text()),
        schema="phms",
    )
    op.bulk_insert(settings, SETTINGS)
    _run(ddl_clinical.grants())
    op.execute("RESET ROLE")


def downgrade() -> None:
    op.execute(f"SET ROLE {OWNER}")
    keys = ", ".join(f"'{s['key']}'" for s in SETTINGS)
    op.execute(f"DELETE FROM phms.setting WHERE key IN ({keys})")
    _run(ddl_clinical.drop_views())
    for table in reversed(ddl_clinical.TABLES):
        op.drop_table(table, schema="phms")
    _run(ddl_clinical.drop_functions())
    op.execute("RESET ROLE")
