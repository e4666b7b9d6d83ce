"""PHMS database schema: typed SQLAlchemy models and the SQL they cannot express.

Imported by the client, the admin CLI and the migrations. Never imports Qt.
"""

from phms_schema.appointment import Appointment
from phms_schema.assessment import Assessment
from phms_schema.base import SCHEMA, Base
from phms_schema.chart_items import Allergy, Comorbidity, Medication
from phms_schema.client_release import ClientRelease, ClientReleaseChunk, ReleaseNotesSeen
from phms_schema.patient import Patient
from phms_schema.problem_report import ProblemReport
from phms_schema.registry_upload import (
    RegistryUploadBatch,
    RegistryUploadPatient,
    RegistryUploadRun,
)
from phms_schema.report_template import ReportTemplate
from phms_schema.search_word import SearchWord
from phms_schema.setting import Setting
from phms_schema.site_secret import SiteSecret
from phms_schema.staff_account import StaffAccount
from phms_schema.value_tally import ValueTally
from phms_schema.vasodilator import VasodilatorChallenge, VasodilatorStep
from phms_schema.walk import SixMinuteWalk

#: The alembic revision this code was built for (the head of migrations/versions).
#: ``phms-admin db check`` compares it with the database's ``alembic_version``; the
#: client accepts any revision from its ``OLDEST_SCHEMA`` on (``phms_client.version``)
#: as long as the database accepts the client's version (``phms_schema.ddl_compat``).
SCHEMA_REVISION = "0019"

__all__ = [
    "SCHEMA",
    "SCHEMA_REVISION",
    "Allergy",
    "Appointment",
    "Assessment",
    "Base",
    "ClientRelease",
    "ClientReleaseChunk",
    "Comorbidity",
    "Medication",
    "Patient",
    "ProblemReport",
    "RegistryUploadBatch",
    "RegistryUploadPatient",
    "RegistryUploadRun",
    "ReleaseNotesSeen",
    "ReportTemplate",
    "SearchWord",
    "Setting",
    "SiteSecret",
    "SixMinuteWalk",
    "StaffAccount",
    "ValueTally",
    "VasodilatorChallenge",
    "VasodilatorStep",
]
