"""A staging copy of the clinic: a backup restored into a separate, marked database.

``create`` restores a backup into a new database named like ``phms_staging``,
marks it (:mod:`phms_admin.staging_mark`), optionally de-identifies it
(:mod:`phms_admin.deidentify`), and only then gives it its name: nobody can
connect to a half-made or unmarked copy under the staging name. The live
database is never touched: a name without "staging", the live database's name,
and any existing database without the mark are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from psycopg import sql

from phms_admin import backup, deidentify, staging_mark
from phms_admin.connection import CommandError
from phms_admin.pgtools import Target, require_superuser
from phms_admin.staging_mark import Conn
from phms_schema.roles import GROUPS, OWNER

DEFAULT_DATABASE = "phms_staging"
#: Where setup-server.sh puts the nightly backups unless told otherwise.
SERVER_BACKUP_DIR = Path("/var/backups/phms")
#: Where setup-server.sh keeps the backup key of encrypted backups.
SERVER_BACKUP_KEY = Path("/etc/phms/backup.key")
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,39}$")
_SYSTEM = {"postgres", "template0", "template1"}

Log = Callable[[str], None]


@dataclass(frozen=True)
class Request:
    backup: Path
    database: str = DEFAULT_DATABASE
    replace: bool = False
    de_identify: bool = False
    key: Fernet | None = None
    pg_bin: Path | None = None
    #: Only for tests: the de-identification's salt (default: random, never stored).
    salt: str | None = None


@dataclass(frozen=True)
class Result:
    database: str
    backup: Path
    schema_revision: str | None
    counts: dict[str, int]
    summary: deidentify.Summary | None


def backup_folder(explicit: Path | None, live: Target) -> Path:
    """Where ``--latest`` looks: the folder given, else the backups of the local
    embedded server (when the live database is that server's), else the server
    installer's nightly folder."""
    if explicit is not None:
        return explicit.expanduser()
    local = backup.embedded_backup_dir(live)
    if local is not None:
        return local
    if SERVER_BACKUP_DIR.is_dir():
        return SERVER_BACKUP_DIR
    raise CommandError(
        "Where are the backups? Pass --backup-dir DIR (the folder of the nightly backups: "
        f"setup-server.sh's --backup-dest, default {SERVER_BACKUP_DIR}), or --from-backup PATH."
    )


def backup_key(path: Path, given: Fernet | None, log: Log) -> Fernet | None:
    """The key of an encrypted backup: the one given, else the server installer's."""
    if given is not None or not backup.read_manifest(path).get("encryption"):
        return given
    if SERVER_BACKUP_KEY.is_file():
        from phms_admin import backup_crypto

        log(f"The backup is encrypted; using the key {SERVER_BACKUP_KEY}.")
        return backup_crypto.load_key(SERVER_BACKUP_KEY)
    return None  # restore says it needs --encrypt-key-file


def default_name(live: str) -> str:
    """``<live>_staging`` (the name setup-server.sh lets the workstations reach)."""
    if live in _SYSTEM or "staging" in live or not _NAME.match(f"{live}_staging"):
        return DEFAULT_DATABASE
    return f"{live}_staging"


def check_name(name: str, live: str, manifest: dict[str, Any]) -> None:
    """A staging copy's name says "staging" and is never the live database's."""
    if not _NAME.match(name):
        raise CommandError(
            f"{name!r} is not a usable database name: lower-case letters, digits and _, "
            "at most 40 characters, not starting with a digit."
        )
    if "staging" not in name:
        raise CommandError(
            f"A staging copy's name must say so: {name!r} has no 'staging' in it "
            f"(the default is {DEFAULT_DATABASE})."
        )
    taken = {live, str(manifest.get("database") or "")} | _SYSTEM
    if name in taken:
        raise CommandError(
            f"{name!r} is the name of the live database (or of a system database); "
            "a staging copy never replaces it."
        )


def _exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def _drop(conn: Conn, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _work_name(name: str) -> str:
    return f"{name}_new_{backup.utc_now().strftime('%Y%m%d%H%M%S')}"[:63]


def _require_groups(conn: Conn) -> None:
    """Without the backup's logins the server must have PHMS's own roles already."""
    names = [OWNER, *GROUPS.values()]
    rows = conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (names,))
    missing = sorted(set(names) - {r[0] for r in rows.fetchall()})
    if missing:
        raise CommandError(
            "This server lacks PHMS's roles (" + ", ".join(missing) + "), and a "
            "de-identified copy brings none of the live server's logins. Make the server "
            "with 'phms-admin server init' (or setup-server.sh) first."
        )


def _comment(req: Request, manifest: dict[str, Any]) -> str:
    made = backup.utc_now().isoformat(timespec="seconds")
    kind = "de-identified " if req.de_identify else ""
    return (
        f"PHMS STAGING {kind}copy of backup {req.backup.name} (database "
        f"{manifest.get('database')}, revision {manifest.get('schema_revision')}), "
        f"made {made}. Not the clinic's live data."
    )


def create(target: Target, req: Request, *, log: Log = print) -> Result:
    """Restore ``req.backup`` on ``target``'s server as the staging copy ``req.database``."""
    manifest = backup.read_manifest(req.backup)
    check_name(req.database, target.dbname, manifest)
    with target.connect(autocommit=True) as conn:
        require_superuser(conn, "Making a staging copy")
        exists = _exists(conn, req.database)
        if exists and not staging_mark.is_marked(conn, req.database):
            raise CommandError(
                f"The database {req.database!r} exists and is not a staging copy; PHMS never "
                "replaces it. Choose another --database."
            )
        if exists and not req.replace:
            raise CommandError(
                f"The staging copy {req.database!r} exists already; pass --replace to make it "
                "again (whoever is logged in to it is disconnected)."
            )
        if req.de_identify:
            _require_groups(conn)
    work = _work_name(req.database)
    log(f"Restoring {req.backup} into {work} (it becomes {req.database} when ready) ...")
    # A de-identified copy brings no logins of the live server (nor their password
    # hashes): on the same server the logins exist anyway, elsewhere make new ones.
    counts = backup.restore_backup(
        target,
        req.backup,
        work,
        key=req.key,
        pg_bin=req.pg_bin,
        roles=not req.de_identify,
        log=log,
    )
    summary = None
    with target.connect(autocommit=True) as conn:
        try:
            staging_mark.mark(conn, work, _comment(req, manifest))
            if req.de_identify:
                log("De-identifying the copy ...")
                with target.with_database(work).connect(autocommit=True) as copy:
                    summary = deidentify.deidentify(
                        copy, database=req.database, source=req.backup.name, salt=req.salt, log=log
                    )
            if _exists(conn, req.database):
                if not staging_mark.is_marked(conn, req.database):  # appeared meanwhile
                    raise CommandError(f"{req.database!r} appeared meanwhile and is no copy.")
                _drop(conn, req.database)
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(work), sql.Identifier(req.database)
                )
            )
        except BaseException:
            _drop(conn, work)
            raise
    return Result(req.database, req.backup, manifest.get("schema_revision"), counts, summary)


def drop(target: Target, database: str) -> None:
    """Drop a staging copy (and only a staging copy)."""
    admin = target.with_database("postgres") if target.dbname == database else target
    with admin.connect(autocommit=True) as conn:
        require_superuser(conn, "Dropping a staging copy")
        if not _exists(conn, database):
            raise CommandError(f"There is no database {database!r}.")
        if not staging_mark.is_marked(conn, database):
            raise CommandError(f"{database!r} is not a staging copy; PHMS does not drop it.")
        _drop(conn, database)


def listing(target: Target) -> dict[str, str]:
    with target.connect() as conn:
        return staging_mark.marked_databases(conn)
