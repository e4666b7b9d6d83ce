"""PHMS database schema: typed SQLAlchemy models and the SQL they cannot express.

Imported by the client, the admin CLI and the migrations. Never imports Qt.
"""

from phms_schema.base import SCHEMA, Base
from phms_schema.patient import Patient
from phms_schema.problem_report import ProblemReport
from phms_schema.setting import Setting

#: The alembic revision this code was built for. The client's schema gate and
#: ``phms-admin db check`` compare it with the database's ``alembic_version``.
SCHEMA_REVISION = "0002"

__all__ = ["SCHEMA", "SCHEMA_REVISION", "Base", "Patient", "ProblemReport", "Setting"]
