"""The patient's chart: load it in one round trip; add, edit, stop and delete entries.

Loading (:mod:`~phms_client.services.chart_load`): the whole chart, or a chart's first
screen and then its older records page by page and its whole course, each in one
statement of compact rows (:mod:`~phms_client.services.chart_wire`). The dataclasses
are in :mod:`~phms_client.services.chart_types`, reads and writes of single entries
in :mod:`~phms_client.services.chart_write`; this module gives them all.

Every function takes a Session for one short unit of work (the caller commits,
e.g. ``Database.session()``) and returns frozen dataclasses; ORM objects never
leave this module. Values are exact ``Decimal``s as stored; derived values come
from the database (generated columns and the views ``phms.assessment_risk``,
``phms.six_minute_walk_predicted``, ``phms.vasoreactivity``), never recomputed
here. Round only for display.

Concurrency: every update names the ``version`` the user loaded; when the row
has moved on since, nothing is written and :class:`StaleEntry` (a
``sqlalchemy.orm.exc.StaleDataError``) carries the server's copy for the
compare dialog. Rules the database enforces (ranges, prerequisites, Stop/Del
semantics) surface as ``sqlalchemy.exc.IntegrityError`` naming the constraint.
"""

from __future__ import annotations

from phms_client.services.chart_assembly import assemble_chart, course_of
from phms_client.services.chart_load import (
    FIRST_SCREEN_RECORDS,
    OLDER_PAGE_RECORDS,
    load_chart,
    load_chart_with_details,
    load_course,
    load_older,
)
from phms_client.services.chart_types import (
    ITEM_KINDS,
    RECORD_TABLES,
    STEP_REMOVED,
    AnyRecord,
    AssessmentInput,
    AssessmentRecord,
    ChallengeInput,
    ChallengeRecord,
    Chart,
    ChartCourse,
    ChartItem,
    ChartPatient,
    CoursePoint,
    CourseWalk,
    EntryNotFound,
    Haemodynamics,
    ItemInput,
    ItemKind,
    LatestValues,
    Measured,
    OlderRecords,
    RecordTable,
    RiskPoint,
    StaleEntry,
    Stamp,
    StepInput,
    TimelineEntry,
    WalkInput,
    WalkPrediction,
    WalkRecord,
)
from phms_client.services.chart_write import (
    add_item,
    create_assessment,
    create_challenge,
    create_walk,
    current_medications,
    delete_item,
    delete_record,
    get_assessment,
    get_challenge,
    get_item,
    get_walk,
    stop_item,
    update_assessment,
    update_challenge,
    update_item,
    update_walk,
)

__all__ = [
    "FIRST_SCREEN_RECORDS",
    "ITEM_KINDS",
    "OLDER_PAGE_RECORDS",
    "RECORD_TABLES",
    "STEP_REMOVED",
    "AnyRecord",
    "AssessmentInput",
    "AssessmentRecord",
    "ChallengeInput",
    "ChallengeRecord",
    "Chart",
    "ChartCourse",
    "ChartItem",
    "ChartPatient",
    "CoursePoint",
    "CourseWalk",
    "EntryNotFound",
    "Haemodynamics",
    "ItemInput",
    "ItemKind",
    "LatestValues",
    "Measured",
    "OlderRecords",
    "RecordTable",
    "RiskPoint",
    "StaleEntry",
    "Stamp",
    "StepInput",
    "TimelineEntry",
    "WalkInput",
    "WalkPrediction",
    "WalkRecord",
    "add_item",
    "assemble_chart",
    "course_of",
    "create_assessment",
    "create_challenge",
    "create_walk",
    "current_medications",
    "delete_item",
    "delete_record",
    "get_assessment",
    "get_challenge",
    "get_item",
    "get_walk",
    "load_chart",
    "load_chart_with_details",
    "load_course",
    "load_older",
    "stop_item",
    "update_assessment",
    "update_challenge",
    "update_item",
    "update_walk",
]
