"""Backups of the PHMS database: take, verify, restore, drill, rotate.

A backup is a folder ``phms-<UTC stamp>`` holding

- ``phms.dump``: ``pg_dump --format=custom`` of the database;
- ``roles.sql``: ``pg_dumpall --roles-only`` (staff logins live in the cluster,
  not in the database, so a database dump alone would restore nobody's login);
- ``manifest.json``: when, from which server and schema revision, each file's
  SHA-256 and size, and the row count of every table. The counts are taken in
  the very snapshot that pg_dump dumps (``pg_export_snapshot``), so a restore can
  be checked row for row.

It is written into ``.partial-<stamp>`` and renamed only when complete, so a
folder named ``phms-*`` with a manifest is always a finished backup. Every file
is 0600. With a key, the two dump files are encrypted as they are written
(:mod:`phms_admin.backup_crypto`); the manifest has no patient data and stays
readable. Any failed step raises :class:`CommandError` with the program's own
error output; nothing is swallowed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet
from psycopg import sql

from phms_admin import backup_crypto, embedded, staging_mark
from phms_admin.connection import CommandError
from phms_admin.pgtools import (
    Target,
    describe_pg_error,
    find_bin_dir,
    require_superuser,
    run_tool,
    server_major,
    tool_major,
)

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "phms.dump"
ROLES = "roles.sql"
PREFIX = "phms-"
PARTIAL_PREFIX = ".partial-"
STAMP = "%Y%m%dT%H%M%SZ"
DEFAULT_KEEP_DAYS = 5
#: Schemas whose tables the drill compares (the clinical data and its audit trail).
DRILL_SCHEMAS = ("phms", "audit")
ROLES_HEADER = "-- PostgreSQL database cluster dump"

_NAME = re.compile(r"^phms-(\d{8}T\d{6}Z)(?:-(\d+))?$")
_PARTIAL = re.compile(r"^\.partial-(\d{8}T\d{6}Z)")

Log = Callable[[str], None]
Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    removed: list[Path] = field(default_factory=list)
    copy: Path | None = None


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp_of(name: str) -> dt.datetime | None:
    match = _NAME.match(name) or _PARTIAL.match(name)
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), STAMP).replace(tzinfo=dt.UTC)


def embedded_backup_dir(target: Target) -> Path | None:
    """``backups`` beside the local embedded server's data, if ``target`` is that server."""
    folder = embedded.default_data_dir()
    if not (folder / embedded.INFO_FILE).exists():
        return None
    try:
        info = embedded.read_info(folder)
    except (embedded.ServerError, ValueError, KeyError):
        return None
    host = target.params.get("host", "")
    if target.params.get("port") == str(info.port) and host in embedded.LOOPBACK:
        return folder.parent / "backups"
    return None


# --------------------------------------------------------------------------- files


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _fsync(path: Path) -> None:
    if sys.platform == "win32" and path.is_dir():
        return  # Windows cannot open a folder to flush it
    # Windows can only flush a file opened for writing.
    fd = os.open(path, os.O_RDWR if sys.platform == "win32" else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700)
    path.chmod(0o700)


def _make_dest(dest: Path) -> None:
    try:
        dest.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"Cannot use the backup folder {dest}: {exc.strerror or exc}") from exc
    if not dest.is_dir():
        raise CommandError(f"The backup folder {dest} is not a folder.")


def list_backups(dest: Path) -> list[Path]:
    """Complete backups in ``dest``, oldest first."""
    if not dest.is_dir():
        return []
    found = []
    for child in dest.iterdir():
        match = _NAME.match(child.name)
        if match and child.is_dir() and (child / MANIFEST).is_file():
            found.append((match.group(1), int(match.group(2) or 1), child))
    return [path for _s, _n, path in sorted(found)]


def latest_backup(dest: Path) -> Path:
    backups = list_backups(dest)
    if not backups:
        raise CommandError(f"There is no complete backup in {dest}.")
    return backups[-1]


def read_manifest(path: Path) -> dict[str, Any]:
    file = path / MANIFEST
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CommandError(f"{path} is not a PHMS backup (no {MANIFEST}).") from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"Cannot read {file}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CommandError(f"{file} is not a PHMS backup manifest of format {FORMAT}.")
    return manifest


def check_files(path: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems with the backup's files (missing, wrong size, wrong checksum)."""
    problems = []
    for name, expected in manifest["files"].items():
        file = path / name
        if not file.is_file():
            problems.append(f"{name}: missing")
            continue
        digest, size = _sha256(file)
        if size != expected["size"]:
            problems.append(f"{name}: {size} bytes, the manifest says {expected['size']}")
        elif digest != expected["sha256"]:
            problems.append(f"{name}: checksum differs from the manifest (the file is damaged)")
    return problems


# --------------------------------------------------------------------------- counting


def table_counts(conn: Conn) -> dict[str, int]:
    """Rows of every table the dump holds data for, as ``{"schema.table": n}``."""
    rows = conn.execute(
        """SELECT n.nspname, c.relname FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
              AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                AND d.objid = c.oid AND d.deptype = 'e')
            ORDER BY 1, 2"""
    ).fetchall()
    counts = {}
    for schema, table in rows:
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        row = conn.execute(query).fetchone()
        counts[f"{schema}.{table}"] = int(row[0]) if row else 0
    return counts


def _database_facts(conn: Conn) -> dict[str, Any]:
    revision = None
    if conn.execute("SELECT to_regclass('public.alembic_version')").fetchone() != (None,):
        row = conn.execute("SELECT version_num FROM public.alembic_version").fetchone()
        revision = row[0] if row else None
    acl_row = conn.execute(
        "SELECT datacl IS NULL, pg_get_userbyid(datdba), pg_encoding_to_char(encoding) "
        "FROM pg_database WHERE datname = current_database()"
    ).fetchone()
    assert acl_row is not None
    grants = conn.execute(
        """SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END,
                  a.privilege_type, a.is_grantable
             FROM pg_database d, aclexplode(d.datacl) a
            WHERE d.datname = current_database() ORDER BY 1, 2"""
    ).fetchall()
    return {
        "schema_revision": revision,
        "database_owner": acl_row[1],
        "encoding": acl_row[2],
        "database_grants": None
        if acl_row[0]
        else [{"grantee": g, "privilege": p, "grantable": bool(o)} for g, p, o in grants],
    }


# --------------------------------------------------------------------------- run


def _dump_to_file(
    bin_dir: Path, tool: str, args: list[str], target: Target, file: Path, key: Fernet | None
) -> None:
    """Run pg_dump/pg_dumpall into ``file``; with a key, encrypt as the output streams."""
    if key is None:
        run_tool(bin_dir, tool, [*args, f"--file={file}"], target=target)
        return
    program = bin_dir / (tool + (".exe" if sys.platform == "win32" else ""))
    with tempfile.TemporaryFile() as err, file.open("wb") as out:
        try:
            proc = subprocess.Popen(
                [str(program), *args], stdout=subprocess.PIPE, stderr=err, env=target.env()
            )
        except OSError as exc:
            raise CommandError(f"Cannot run {program}: {exc.strerror or exc}") from exc
        assert proc.stdout is not None
        writer = backup_crypto.EncryptingWriter(out, key)
        try:
            while chunk := proc.stdout.read(backup_crypto.CHUNK):
                writer.write(chunk)
            writer.close()
        finally:
            proc.stdout.close()
            code = proc.wait()
        err.seek(0)
        stderr = err.read().decode(errors="replace").strip()
    if code != 0:
        raise CommandError(f"{tool} failed (exit {code}):\n{stderr or '(no output)'}")
    if stderr:
        print(stderr, file=sys.stderr)


def _free_name(dest: Path, stamp: str) -> str:
    name = f"{PREFIX}{stamp}"
    n = 1
    while (dest / name).exists():
        n += 1
        name = f"{PREFIX}{stamp}-{n}"
    return name


def run_backup(
    target: Target,
    dest: Path,
    *,
    keep_days: int | None = DEFAULT_KEEP_DAYS,
    copy_to: Path | None = None,
    key: Fernet | None = None,
    pg_bin: Path | None = None,
    log: Log = print,
) -> BackupResult:
    """Take one backup of ``target`` into ``dest``; then rotate and copy off-site."""
    dest = dest.expanduser().absolute()
    _make_dest(dest)
    if copy_to is not None:
        copy_to = copy_to.expanduser().absolute()
        _make_dest(copy_to)
    conn = target.connect()
    try:
        require_superuser(conn, "A backup")
        staging_mark.refuse_on_staging(
            conn,
            "A backup",
            "A staging copy is made from a backup of the live database, and can be made "
            "again from one at any time ('phms-admin staging create --replace').",
        )
        major = server_major(conn)
        bin_dir = find_bin_dir("pg_dump", at_least=major, explicit=pg_bin)
        created = utc_now()
        stamp = created.strftime(STAMP)
        partial = dest / f"{PARTIAL_PREFIX}{stamp}-{os.getpid()}"
        try:
            _private_dir(partial)
        except OSError as exc:
            raise CommandError(f"Cannot write into {dest}: {exc.strerror or exc}") from exc
        try:
            manifest = _take(conn, target, bin_dir, partial, key, created)
            final = dest / _free_name(dest, stamp)
            os.rename(partial, final)
            _fsync(dest)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    finally:
        conn.close()
    log(f"Backup complete: {final}")
    result = BackupResult(path=final, manifest=manifest)
    if keep_days is not None:
        result.removed.extend(rotate(dest, keep_days, now=created, log=log))
    if copy_to is not None:
        try:
            copy = copy_backup(final, copy_to)
        except CommandError as exc:
            raise CommandError(
                f"The backup {final} is complete, but its off-site copy failed: {exc}"
            ) from exc
        log(f"Off-site copy complete and checked: {copy}")
        if keep_days is not None:
            result.removed.extend(rotate(copy_to, keep_days, now=created, log=log))
        return BackupResult(path=final, manifest=manifest, removed=result.removed, copy=copy)
    return result


def _take(
    conn: Conn,
    target: Target,
    bin_dir: Path,
    partial: Path,
    key: Fernet | None,
    created: dt.datetime,
) -> dict[str, Any]:
    suffix = ".enc" if key else ""
    dump_name, roles_name = DUMP + suffix, ROLES + suffix
    try:
        # One snapshot for the counts and for pg_dump: the manifest describes exactly
        # the data in the dump, even while the clinic keeps working.
        conn.rollback()
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        row = conn.execute("SELECT pg_export_snapshot()").fetchone()
        assert row is not None
        snapshot = str(row[0])
        facts = _database_facts(conn)
        counts = table_counts(conn)
    except psycopg.Error as exc:
        raise CommandError(f"Cannot read the database: {describe_pg_error(exc)}") from exc
    _dump_to_file(
        bin_dir,
        "pg_dump",
        [
            "--format=custom",
            f"--snapshot={snapshot}",
            "--lock-wait-timeout=120s",
            "--no-password",
            f"--dbname={target.conninfo()}",
        ],
        target,
        partial / dump_name,
        key,
    )
    conn.rollback()
    _dump_to_file(
        bin_dir,
        "pg_dumpall",
        [
            "--roles-only",
            "--no-password",
            f"--dbname={target.conninfo()}",
            f"--database={target.dbname}",
        ],
        target,
        partial / roles_name,
        key,
    )
    files = {}
    for name in (dump_name, roles_name):
        file = partial / name
        file.chmod(0o600)
        _fsync(file)
        digest, size = _sha256(file)
        files[name] = {"sha256": digest, "size": size}
    manifest = {
        "format": FORMAT,
        "created": created.isoformat(timespec="seconds"),
        "database": target.dbname,
        "server": target.describe(),
        "server_version": conn.info.parameter_status("server_version"),
        "server_version_num": conn.info.server_version,
        "pg_dump_major": tool_major(bin_dir / "pg_dump"),
        **facts,
        "encryption": backup_crypto.SCHEME if key else None,
        "contents": {"dump": dump_name, "roles": roles_name},
        "files": files,
        "row_counts": counts,
    }
    mpath = partial / MANIFEST
    fd = os.open(mpath, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    _fsync(partial)
    return manifest


# --------------------------------------------------------------------------- rotate, copy


def rotate(
    dest: Path, keep_days: int, *, now: dt.datetime | None = None, log: Log = print
) -> list[Path]:
    """Remove complete backups older than ``keep_days`` (never the newest one), and
    leftovers of failed runs older than that."""
    if keep_days < 0:
        raise CommandError("--keep-days must be 0 or more.")
    now = now or utc_now()
    limit = now - dt.timedelta(days=keep_days)
    backups = list_backups(dest)
    removed = []
    for path in backups[:-1]:
        created = stamp_of(path.name)
        if created is not None and created < limit:
            shutil.rmtree(path)
            removed.append(path)
            log(f"Removed old backup {path.name} (older than {keep_days} days)")
    for child in dest.iterdir():
        created = stamp_of(child.name)
        if child.name.startswith(PARTIAL_PREFIX) and created is not None and created < limit:
            shutil.rmtree(child)
            removed.append(child)
            log(f"Removed {child.name}, left over by a backup that failed")
    return removed


def copy_backup(src: Path, dest_root: Path) -> Path:
    """Copy a backup folder to ``dest_root`` atomically and check it against the manifest."""
    manifest = read_manifest(src)
    partial = dest_root / f"{PARTIAL_PREFIX}{src.name.removeprefix(PREFIX)}-{os.getpid()}"
    try:
        _private_dir(partial)
        for name in [*manifest["files"], MANIFEST]:
            shutil.copyfile(src / name, partial / name)
            (partial / name).chmod(0o600)
            _fsync(partial / name)
        problems = check_files(partial, manifest)
        if problems:
            raise CommandError("the copy differs from the original: " + "; ".join(problems))
        final = dest_root / src.name
        if final.exists():
            raise CommandError(f"{final} exists already")
        os.rename(partial, final)
        _fsync(dest_root)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise CommandError(f"cannot write to {dest_root}: {exc.strerror or exc}") from exc
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


# --------------------------------------------------------------------------- verify


@contextmanager
def plain_files(
    path: Path, manifest: dict[str, Any], key: Fernet | None
) -> Iterator[dict[str, Path]]:
    """The backup's dump and roles files, decrypted into a private temporary folder
    for as long as needed when the backup is encrypted."""
    contents = manifest["contents"]
    if not manifest.get("encryption"):
        yield {kind: path / name for kind, name in contents.items()}
        return
    if manifest["encryption"] != backup_crypto.SCHEME:
        raise CommandError(f"{path} is encrypted with {manifest['encryption']!r}, unknown here.")
    if key is None:
        raise CommandError(f"{path} is encrypted; pass --encrypt-key-file with its key.")
    with tempfile.TemporaryDirectory(prefix="phms-restore-") as tmp:
        out = {}
        for kind, name in contents.items():
            plain = Path(tmp) / name.removesuffix(".enc")
            with plain.open("wb") as f:
                backup_crypto.decrypt_file(path / name, f, key)
            out[kind] = plain
        yield out


def verify_backup(
    path: Path, *, key: Fernet | None = None, pg_bin: Path | None = None, log: Log = print
) -> dict[str, Any]:
    """Checksums and sizes, then the archive must be readable by pg_restore."""
    manifest = read_manifest(path)
    problems = check_files(path, manifest)
    if problems:
        raise CommandError(f"The backup {path} is damaged:\n  " + "\n  ".join(problems))
    bin_dir = find_bin_dir("pg_restore", at_least=manifest.get("pg_dump_major"), explicit=pg_bin)
    with plain_files(path, manifest, key) as files:
        listing = run_tool(bin_dir, "pg_restore", ["--list", str(files["dump"])])
        with files["roles"].open(encoding="utf-8", errors="replace") as f:
            head = f.read(4096)
        if ROLES_HEADER not in head:
            raise CommandError(f"The roles file of {path} is not a pg_dumpall roles dump.")
    entries = sum(1 for line in listing.splitlines() if line and not line.startswith(";"))
    log(
        f"Backup {path} is intact: {len(manifest['files'])} files match their checksums, "
        f"and the archive lists {entries} entries."
    )
    return manifest


# --------------------------------------------------------------------------- restore

_ROLE_STMT = re.compile(
    r'^(CREATE ROLE|ALTER ROLE|COMMENT ON ROLE)\s+("(?:[^"]|"")+"|[^\s;]+)', re.IGNORECASE
)
_GRANT_STMT = re.compile(
    r'^GRANT\s+("(?:[^"]|"")+"|\S+)\s+TO\s+("(?:[^"]|"")+"|[^\s;]+)', re.IGNORECASE
)


def _ident(text: str) -> str:
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text


def role_statements(script: str) -> list[str]:
    """The SQL statements of a pg_dumpall roles script (psql meta-commands left out)."""
    statements, current = [], ""
    for line in script.splitlines():
        if not current and (not line.strip() or line.startswith(("--", "\\"))):
            continue
        current = f"{current}\n{line}" if current else line
        if current.rstrip().endswith(";") and current.count("'") % 2 == 0:
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise CommandError("The roles file ends inside a statement; it is damaged.")
    return statements


@dataclass
class RolesResult:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def apply_roles(conn: Conn, script: str) -> RolesResult:
    """Create the roles that do not exist yet, with their attributes, passwords and
    group memberships. Roles that exist are left exactly as they are (their password
    and groups may have changed since the backup, on purpose)."""
    existing = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
    result = RolesResult()
    for statement in role_statements(script):
        role_match = _ROLE_STMT.match(statement)
        grant_match = _GRANT_STMT.match(statement)
        if role_match:
            name = _ident(role_match.group(2))
            if name in existing:
                if role_match.group(1).upper() == "CREATE ROLE":
                    result.kept.append(name)
                continue
        elif grant_match and _ident(grant_match.group(2)) in existing:
            continue  # never change the groups of a login that exists
        try:
            conn.execute(statement.encode())
        except psycopg.Error as exc:
            if grant_match or statement.upper().startswith("SET "):
                result.warnings.append(f"{statement[:80]}: {describe_pg_error(exc)}")
                continue
            raise CommandError(
                f"Restoring the roles failed at {statement[:80]!r}: {describe_pg_error(exc)}"
            ) from exc
        if role_match and role_match.group(1).upper() == "CREATE ROLE":
            result.created.append(_ident(role_match.group(2)))
    return result


def _database_exists(conn: Conn, name: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None
    )


def _apply_database_facts(conn: Conn, database: str, manifest: dict[str, Any]) -> None:
    db = sql.Identifier(database)
    roles = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles").fetchall()}
    owner = str(manifest.get("database_owner") or "")
    if owner in roles:
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, sql.Identifier(owner)))
    grants = manifest.get("database_grants")
    if grants is None:
        return
    conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))
    for g in grants:
        if g["grantee"] != "PUBLIC" and g["grantee"] not in roles:
            continue
        grantee = sql.SQL("PUBLIC") if g["grantee"] == "PUBLIC" else sql.Identifier(g["grantee"])
        conn.execute(
            sql.SQL("GRANT {} ON DATABASE {} TO {}{}").format(
                sql.SQL(g["privilege"]),
                db,
                grantee,
                sql.SQL(" WITH GRANT OPTION" if g["grantable"] else ""),
            )
        )


def _drop_database(conn: Conn, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def count_differences(expected: dict[str, int], actual: dict[str, int]) -> list[str]:
    return [
        f"{table}: {n} rows in the backup, {actual.get(table, 'no such table')} restored"
        for table, n in sorted(expected.items())
        if actual.get(table) != n
    ]


def restore_backup(
    target: Target,
    path: Path,
    database: str,
    *,
    force: bool = False,
    key: Fernet | None = None,
    pg_bin: Path | None = None,
    roles: bool = True,
    check_counts: bool = True,
    log: Log = print,
) -> dict[str, int]:
    """Restore ``path`` as ``database`` on ``target``'s server; return the row counts.

    The backup is restored into a new database first and checked row for row against
    its manifest; only then, with ``force``, does it replace an existing database.
    """
    manifest = verify_backup(path, key=key, pg_bin=pg_bin, log=log)
    admin = target.with_database("postgres" if target.dbname == database else target.dbname)
    conn = admin.connect(autocommit=True)
    try:
        require_superuser(conn, "A restore")
        exists = _database_exists(conn, database)
        if exists and not force:
            raise CommandError(
                f"The database {database!r} exists; refusing to overwrite it. Choose another "
                "--database, or pass --force to replace it (after the restore succeeds)."
            )
        bin_dir = find_bin_dir(
            "pg_restore",
            at_least=max(server_major(conn), int(manifest.get("pg_dump_major") or 0)),
            explicit=pg_bin,
        )
        with plain_files(path, manifest, key) as files:
            if roles:
                result = apply_roles(conn, files["roles"].read_text(encoding="utf-8"))
                log(
                    f"Roles: {len(result.created)} created, {len(result.kept)} existed "
                    "already and were left as they are."
                )
                for warning in result.warnings:
                    log(f"  warning: {warning}")
            work = database
            if exists:
                work = f"{database}_restore_{utc_now().strftime('%Y%m%d%H%M%S')}"[:63]
            encoding = manifest.get("encoding") or "UTF8"
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING {}").format(
                    sql.Identifier(work), sql.Literal(encoding)
                )
            )
            try:
                run_tool(
                    bin_dir,
                    "pg_restore",
                    [
                        "--exit-on-error",
                        "--single-transaction",
                        "--no-password",
                        f"--dbname={target.with_database(work).conninfo()}",
                        str(files["dump"]),
                    ],
                    target=target,
                )
                _apply_database_facts(conn, work, manifest)
                with target.with_database(work).connect() as check:
                    counts = table_counts(check)
                problems = count_differences(manifest["row_counts"], counts)
                if problems and check_counts:
                    raise CommandError(
                        "The restored database does not hold every row of the backup:\n  "
                        + "\n  ".join(problems)
                    )
            except BaseException:
                _drop_database(conn, work)
                raise
        if exists:
            _drop_database(conn, database)
            conn.execute(
                sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                    sql.Identifier(work), sql.Identifier(database)
                )
            )
    except psycopg.Error as exc:
        raise CommandError(describe_pg_error(exc)) from exc
    finally:
        conn.close()
    if check_counts:
        log(
            f"Restored {path.name} as database {database!r}: {len(counts)} tables, "
            f"{sum(counts.values())} rows, every table with exactly the rows of the backup."
        )
    return counts


# --------------------------------------------------------------------------- drill


@dataclass(frozen=True)
class DrillRow:
    table: str
    backup: int | None
    restored: int | None
    live: int | None

    @property
    def ok(self) -> bool:
        return self.backup is not None and self.backup == self.restored


def drill(
    target: Target,
    dest: Path,
    *,
    key: Fernet | None = None,
    pg_bin: Path | None = None,
    log: Log = print,
) -> list[DrillRow]:
    """Restore the newest backup of ``dest`` into a scratch database, compare, drop it.

    Returns one row per table of the schemas phms and audit; the drill passed when
    every row is ``ok`` (restored == the live database's count in the backup's snapshot).
    """
    path = latest_backup(dest)
    manifest = read_manifest(path)
    scratch = f"phms_drill_{utc_now().strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    log(f"Drill: restoring {path} into the scratch database {scratch}")
    try:
        # Roles are not replayed: a drill must not change the live server's logins.
        restored = restore_backup(
            target, path, scratch, key=key, pg_bin=pg_bin, roles=False, check_counts=False, log=log
        )
    finally:
        with target.with_database("postgres").connect(autocommit=True) as conn:
            _drop_database(conn, scratch)
    with target.connect() as live_conn:
        live = table_counts(live_conn)
    tables = sorted(
        t
        for t in {*manifest["row_counts"], *restored, *live}
        if t.split(".", 1)[0] in DRILL_SCHEMAS
    )
    return [
        DrillRow(t, manifest["row_counts"].get(t), restored.get(t), live.get(t)) for t in tables
    ]
