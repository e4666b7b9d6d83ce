"""Rights on the registry upload's tables (migration 0013; see ``registry_upload``).

The upload is run by IT's service (the systemd timer, as the server's
superuser through the local socket, like the backups) or by an admin login
(``phms-admin registry-upload --url``: reading the site's registry key needs
an admin anyway). Admins may therefore read and write the upload state;
clerks, clinicians and auditors may not even read it.
"""

from __future__ import annotations

from typing import Final

from phms_schema.base import SCHEMA
from phms_schema.roles import GROUPS

TABLES: Final = ("registry_upload_patient", "registry_upload_batch", "registry_upload_run")


def grants() -> list[str]:
    admin = GROUPS["admin"]
    names = ", ".join(f"{SCHEMA}.{t}" for t in TABLES)
    return [
        f"REVOKE ALL ON {names} FROM PUBLIC",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {names} TO {admin}",
        f"GRANT USAGE ON SEQUENCE {SCHEMA}.registry_upload_run_id_seq TO {admin}",
    ]
