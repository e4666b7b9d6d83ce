"""The window of client versions the database accepts (migration 0016).

Two site settings (``phms.setting`` rows, so every login reads them at login and
admins see them in Preferences):

- ``min_client_version``: the oldest PHMS release that may log in. ``phms-admin db
  upgrade`` raises it when it applied a migration that breaks older clients (the
  migration module says so: ``BREAKS_CLIENTS_BEFORE``); IT sets it with ``phms-admin
  db min-client-version``; an admin may raise it in Preferences.
- ``client_download_hint``: where staff get PHMS (a web address, a shared folder),
  shown by a client that is too old.

The database keeps them sane whatever the client: CHECKs on their shape and
length, and the trigger ``client_window_kept``: neither row can be deleted or
renamed, and only IT (a superuser or a member of the owner role, i.e. ``phms-admin``)
may *lower* the minimum; lowering lets in clients that may not work with the schema.
Its refusals are sentences for people (SQLSTATE P0001, constraint
``client_window_kept``), which the client shows as they are.
Every change is in ``audit.event`` like any setting's.

As with ``ddl.py``: once a migration has used a builder, change its output only
together with a new migration.
"""

from __future__ import annotations

import re
from typing import Final

from phms_schema.roles import GROUPS, OWNER

MIN_CLIENT_KEY: Final = "min_client_version"
DOWNLOAD_HINT_KEY: Final = "client_download_hint"
KEYS: Final = (MIN_CLIENT_KEY, DOWNLOAD_HINT_KEY)

#: A release version as the window records it: 1 to 4 numbers joined by dots
#: ("0.2", "0.2.0", "1.10.3"); no pre-release or local parts.
VERSION_SHAPE: Final = r"^[0-9]{1,6}(\.[0-9]{1,6}){0,3}$"
#: Longest download hint (a URL or a UNC path, with a word of explanation).
MAX_DOWNLOAD_HINT: Final = 500

#: The names of the CHECKs (``ck_setting_<name>`` once the naming convention applies).
VERSION_CHECK: Final = "min_client_version_format"
HINT_CHECK: Final = "client_download_hint_length"
VERSION_CHECK_SQL: Final = (
    f"key <> '{MIN_CLIENT_KEY}' OR (value_type = 'text' AND (value #>> '{{}}') ~ '{VERSION_SHAPE}')"
)
HINT_CHECK_SQL: Final = (
    f"key <> '{DOWNLOAD_HINT_KEY}' OR (value_type = 'text' "
    f"AND length(value #>> '{{}}') <= {MAX_DOWNLOAD_HINT})"
)

MIN_CLIENT_DESCRIPTION: Final = (
    "Oldest PHMS version that may log in. 'phms-admin db upgrade' raises it when a database "
    "change needs newer clients; admins may raise it, only IT may lower it."
)
DOWNLOAD_HINT_DESCRIPTION: Final = (
    "Where staff get PHMS (a web address or a shared folder): shown on a workstation whose "
    "PHMS is older than the database accepts."
)

_VERSION_RE: Final = re.compile(VERSION_SHAPE)


def is_version(text: str) -> bool:
    """Whether ``text`` has the shape the database accepts for ``min_client_version``."""
    return bool(_VERSION_RE.fullmatch(text))


# Version order in SQL: "0.2" = "0.2.0" < "0.10" (numbers, padded to four parts).
VERSION_KEY_FUNCTION: Final = """CREATE FUNCTION phms.version_key(p_version text) RETURNS int[]
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN (pg_catalog.string_to_array(p_version, '.')::int[] || '{0,0,0,0}'::int[])[1:4]"""

KEEP_WINDOW_FUNCTION: Final = f"""CREATE FUNCTION phms.keep_client_window() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.key <> OLD.key THEN
    RAISE EXCEPTION 'The setting "%" is needed by every workstation at login; change its value '
                    'instead of removing it.', OLD.key
      USING CONSTRAINT = 'client_window_kept';
  END IF;
  -- (A value of the wrong shape is left to the CHECK, which names the rule.)
  IF OLD.key = '{MIN_CLIENT_KEY}' AND (NEW.value #>> '{{}}') ~ '{VERSION_SHAPE}'
     AND NOT pg_catalog.pg_has_role(session_user, '{OWNER}', 'MEMBER') THEN
    IF phms.version_key(NEW.value #>> '{{}}') < phms.version_key(OLD.value #>> '{{}}') THEN
      RAISE EXCEPTION 'The oldest PHMS version the database accepts can only be raised here '
                      '(it is %). Lowering it lets in workstations that may not work with this '
                      'database: IT can do it with phms-admin db min-client-version.',
                      OLD.value #>> '{{}}'
        USING CONSTRAINT = 'client_window_kept';
    END IF;
  END IF;
  RETURN NEW;
END $$"""
KEEP_WINDOW_TRIGGER: Final = f"""CREATE TRIGGER client_window_kept
  BEFORE UPDATE OR DELETE ON phms.setting
  FOR EACH ROW WHEN (OLD.key IN ('{MIN_CLIENT_KEY}', '{DOWNLOAD_HINT_KEY}'))
  EXECUTE FUNCTION phms.keep_client_window()"""


def upgrade_statements() -> list[str]:
    """The function, the CHECKs and the trigger (the rows: :data:`SEED`, with values)."""
    return [
        VERSION_KEY_FUNCTION,
        # Staff call it through the trigger (and may order versions with it).
        f"GRANT EXECUTE ON FUNCTION phms.version_key(text) TO {', '.join(GROUPS.values())}",
        f"ALTER TABLE phms.setting ADD CONSTRAINT ck_setting_{VERSION_CHECK} "
        f"CHECK ({VERSION_CHECK_SQL})",
        f"ALTER TABLE phms.setting ADD CONSTRAINT ck_setting_{HINT_CHECK} CHECK ({HINT_CHECK_SQL})",
        KEEP_WINDOW_FUNCTION,
        KEEP_WINDOW_TRIGGER,
    ]


#: The two rows (parameters :k, :v as JSON text, :d); existing ones are kept.
SEED: Final = (
    "INSERT INTO phms.setting (key, value, value_type, description) "
    "VALUES (:k, CAST(:v AS jsonb), 'text', :d) ON CONFLICT (key) DO NOTHING"
)


def downgrade_statements() -> list[str]:
    return [
        "DROP TRIGGER client_window_kept ON phms.setting",
        "DROP FUNCTION phms.keep_client_window()",
        f"DELETE FROM phms.setting WHERE key IN ('{MIN_CLIENT_KEY}', '{DOWNLOAD_HINT_KEY}')",
        f"ALTER TABLE phms.setting DROP CONSTRAINT ck_setting_{HINT_CHECK}",
        f"ALTER TABLE phms.setting DROP CONSTRAINT ck_setting_{VERSION_CHECK}",
        "DROP FUNCTION phms.version_key(text)",
    ]
