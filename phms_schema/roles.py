"""Names of the database roles (DESIGN.md section 5)."""

from __future__ import annotations

from typing import Final

#: NOLOGIN role that owns every object; no staff member is ever a member of it.
OWNER: Final = "phms_owner"

#: Staff groups: the short name used by the CLI and UI -> the group role.
GROUPS: Final[dict[str, str]] = {
    "clerk": "phms_clerk",
    "clinician": "phms_clinician",
    "admin": "phms_admin",
    "auditor": "phms_auditor",
}

#: Channel of the row-change notifications (payload: JSON table/op/key).
CHANGE_CHANNEL: Final = "phms_change"

#: Channel of maintenance broadcasts (payload: the message, plain text).
BROADCAST_CHANNEL: Final = "phms_broadcast"
