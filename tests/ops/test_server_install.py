"""installer/server/setup-server.sh for real: the distribution's PostgreSQL (Debian 12:
version 15) in a cluster of its own on a spare port, TLS, pg_hba, the migrations, the
first admin, the workstation files and the backup units; then the client's own
connection parameters against it.

Needs root and apt. Elsewhere the test skips, except in CI (CI=true), where a missing
prerequisite is a failure: the installer must be proven on every run there.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from phms_admin import embedded, migrate
from phms_client.config import ClientConfig, load_config

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "installer" / "server" / "setup-server.sh"
ADMIN, ADMIN_PASSWORD = "it_admin", "it-admin-password-2026"
REPLICATION_PASSWORD = "replication-password-2026"
UNITS = ("phms-backup.service", "phms-backup.timer", "phms-backup-drill.service",
         "phms-backup-drill.timer")  # fmt: skip


@dataclass(frozen=True)
class Installed:
    port: int
    cluster: str
    args: list[str]
    etc: Path
    systemd: Path
    backups: Path
    first_output: str

    @property
    def root_crt(self) -> Path:
        return self.etc / "workstation" / "root.crt"

    def config(self, host: str = "localhost", rootcert: Path | None = None) -> ClientConfig:
        return ClientConfig(
            hosts=(host,),
            port=self.port,
            sslmode="verify-full",
            sslrootcert=rootcert or self.root_crt,
        )


def _connect(
    config: ClientConfig, user: str = ADMIN, password: str = ADMIN_PASSWORD
) -> psycopg.Connection[tuple[object, ...]]:
    """Connect exactly as the client does: its own connection parameters."""
    return psycopg.connect(**config.conninfo_kwargs(user, password))  # type: ignore[arg-type]


def _missing_prerequisite() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the server installer needs root"
    if not shutil.which("apt-get") or not shutil.which("dpkg-query"):
        return "the server installer needs apt (Debian/Ubuntu)"
    return None


def _require_prerequisites() -> None:
    """Skip where the installer cannot run; in CI that is a failure, never a skip."""
    why = _missing_prerequisite()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the server installer test, but {why}.")
        pytest.skip(why)


def _setup(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={
            **os.environ,
            "PHMS_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "PHMS_REPLICATION_PASSWORD": REPLICATION_PASSWORD,
        },
    )


def _drop_cluster(cluster: str) -> None:
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        fields = line.split()
        if len(fields) > 1 and fields[1] == cluster:
            subprocess.run(["pg_dropcluster", "--stop", fields[0], cluster], check=True)


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    _require_prerequisites()
    base = Path(tempfile.mkdtemp(prefix="phms-install-"))
    cluster = f"phmstest{uuid.uuid4().hex[:6]}"
    port = embedded.free_port()
    etc, systemd, backups = base / "etc", base / "systemd", base / "backups"
    args = [
        "--cluster", cluster, "--port", str(port), "--server-name", "localhost",
        "--listen", "localhost", "--phms-venv", sys.prefix, "--admin", ADMIN,
        "--etc-dir", str(etc), "--systemd-dir", str(systemd), "--backup-dest", str(backups),
        "--encrypt-backups", "--allow-replication", "127.0.0.1/32",
    ]  # fmt: skip
    try:
        first = _setup(args)
        assert first.returncode == 0, first.stdout + first.stderr
        yield Installed(port, cluster, args, etc, systemd, backups, first.stdout + first.stderr)
    finally:
        _drop_cluster(cluster)
        shutil.rmtree(base, ignore_errors=True)


def test_client_connects_with_verify_full(installed: Installed) -> None:
    # The workstation file the installer wrote is read by the client's own loader.
    site = installed.etc / "workstation" / "client.toml"
    config = load_config(site_path=site, user_path=site.parent / "none.toml", environ={})
    assert config.hosts == ("localhost",) and config.port == installed.port
    assert config.sslmode == "verify-full" and config.sslrootcert == installed.root_crt
    with _connect(config) as conn:
        row = conn.execute(
            "SELECT s.ssl, current_user, v.version_num, current_setting('server_version_num')"
            " FROM pg_stat_ssl s, public.alembic_version v WHERE s.pid = pg_backend_pid()"
        ).fetchone()
    assert row is not None
    assert row[:3] == (True, ADMIN, migrate.head_revision())
    assert int(row[3]) >= 150000
    assert "Created it_admin (admin)" in installed.first_output


def test_the_server_ends_idle_transactions_and_notices_vanished_clients(
    installed: Installed,
) -> None:
    names = [*embedded.SERVER_TIMEOUTS]
    with _connect(installed.config()) as conn:
        shown = [conn.execute(f"SHOW {name}").fetchone()[0] for name in names]  # type: ignore[index]
    # The same values as the embedded server (tests/db/test_timeouts.py).
    assert dict(zip(names, shown, strict=True)) == {
        "idle_in_transaction_session_timeout": "5min",
        "tcp_keepalives_idle": "60",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "6",
        "tcp_user_timeout": "60000",
        "client_connection_check_interval": "10s",
        "log_lock_waits": "on",
    }


def test_host_name_must_match_the_certificate(installed: Installed) -> None:
    with pytest.raises(psycopg.OperationalError, match=r'does not match host name "127\.0\.0\.1"'):
        _connect(installed.config("127.0.0.1"))


def test_a_certificate_from_another_ca_is_refused(installed: Installed, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec",
         "-pkeyopt", "ec_paramgen_curve:P-256", "-subj", "/CN=Not the clinic CA",
         "-keyout", str(tmp_path / "other-ca.key"), "-out", str(other), "-days", "2"],
        check=True, capture_output=True,
    )  # fmt: skip
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        _connect(installed.config(rootcert=other))


def test_only_staff_with_tls_and_a_password_get_in(installed: Installed) -> None:
    plain = {"host": "localhost", "port": installed.port, "dbname": "phms", "connect_timeout": 5}
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(**plain, user=ADMIN, password=ADMIN_PASSWORD, sslmode="disable")
    # The superuser cannot log in over the network at all, not even with TLS.
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):
        psycopg.connect(**plain, user="postgres", password="anything", sslmode="require")
    # ...nor the owner of the PHMS objects, nor the superuser's replication.
    with pytest.raises(psycopg.OperationalError, match=r'rejects connection .* user "phms_owner"'):
        psycopg.connect(**plain, user="phms_owner", password="anything", sslmode="require")
    with pytest.raises(psycopg.OperationalError, match="rejects replication connection"):
        psycopg.connect(
            **plain, user="postgres", password="anything", sslmode="require", replication="true"
        )
    # A login that is in no staff group is refused too.
    psql = [
        f"/usr/lib/postgresql/{_pg_version()}/bin/psql", "-X", "-h", "/var/run/postgresql",
        "-p", str(installed.port), "-U", "postgres", "-d", "phms", "-v", "ON_ERROR_STOP=1",
    ]  # fmt: skip
    stranger = "CREATE ROLE x_stranger LOGIN PASSWORD 'stranger-password'"
    subprocess.run([*psql, "-c", stranger], check=True, capture_output=True)
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):
        psycopg.connect(**plain, user="x_stranger", password="stranger-password", sslmode="require")
    # root reaches the superuser through the local socket (the peer map), no password.
    who = [*psql, "-tAc", "SELECT current_user"]
    out = subprocess.run(who, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "postgres"


def test_weak_plain_passwords_are_refused_even_for_oneself(installed: Installed) -> None:
    """passwordcheck is loaded: a login (here the admin) cannot give itself a weak password
    in plain text. Its minimum is 12 from PostgreSQL 18 on, 8 (built in) before."""
    minimum = 12 if int(_pg_version()) >= 18 else 8
    with _connect(installed.config()) as conn:
        for password, reason in (
            ("a", "password is too short"),
            ("x1-" + "b" * (minimum - 4), "password is too short"),
            ("onlylettershere", "password must contain both letters and nonletters"),
            (f"{ADMIN}-password-1", "password must not contain user name"),
        ):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match=reason):
                conn.execute(f"ALTER ROLE CURRENT_USER PASSWORD '{password}'")
            conn.rollback()


def test_a_standby_may_stream_with_tls_as_the_replication_login(installed: Installed) -> None:
    config = installed.config()
    kwargs = config.conninfo_kwargs("phms_replicator", REPLICATION_PASSWORD)
    with psycopg.connect(**{**kwargs, "dbname": "replication", "replication": "true"}) as conn:  # type: ignore[arg-type]
        result = conn.pgconn.exec_(b"IDENTIFY_SYSTEM")
        assert result.status == psycopg.pq.ExecStatus.TUPLES_OK and result.ntuples == 1
    # ...but it is no staff member: the clinic's data stays out of its reach.
    with pytest.raises(psycopg.OperationalError, match="rejects connection"):
        _connect(config, "phms_replicator", REPLICATION_PASSWORD)


def _pg_version() -> str:
    return sorted(os.listdir("/usr/lib/postgresql"), key=int)[-1]


def _unit_command(unit: Path) -> tuple[list[str], dict[str, str]]:
    """ExecStart and Environment of a generated service, to run it as systemd would."""
    env = dict(os.environ)
    command: list[str] = []
    for line in unit.read_text().splitlines():
        if line.startswith("Environment="):
            key, _, value = shlex.split(line.removeprefix("Environment="))[0].partition("=")
            env[key] = value
        elif line.startswith("ExecStart="):
            command = shlex.split(line.removeprefix("ExecStart="))
    return command, env


def test_backup_units_run_the_nightly_backup_and_drill(installed: Installed) -> None:
    assert sorted(p.name for p in installed.systemd.iterdir()) == sorted(UNITS)
    timer = (installed.systemd / "phms-backup.timer").read_text()
    assert "Persistent=true" in timer and "OnCalendar=*-*-* 02:30:00" in timer
    if shutil.which("systemd-analyze"):
        units = [str(installed.systemd / u) for u in UNITS]
        verify = ["systemd-analyze", "verify", *units]
        check = subprocess.run(verify, capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr

    command, env = _unit_command(installed.systemd / "phms-backup.service")
    assert "--encrypt-key-file" in command and f"/usr/lib/postgresql/{_pg_version()}/bin" in command
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "Backup complete" in done.stdout and "encrypted" in done.stdout
    command, env = _unit_command(installed.systemd / "phms-backup-drill.service")
    drill = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    assert "Drill passed" in drill.stdout and "phms.patient" in drill.stdout


def test_running_it_again_changes_nothing(installed: Installed) -> None:
    ca = (installed.etc / "tls" / "ca.crt").read_bytes()
    cert = Path(f"/etc/postgresql/{_pg_version()}/{installed.cluster}/phms-server.crt")
    before = cert.read_bytes()
    again = _setup(installed.args)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing to do" in again.stdout and "exists (unchanged)" in again.stdout
    assert "creating" not in again.stdout and "restarting" not in again.stdout
    assert (installed.etc / "tls" / "ca.crt").read_bytes() == ca and cert.read_bytes() == before
    with _connect(installed.config()) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_missing_prerequisites_fail_in_ci_and_skip_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run"):
        _require_prerequisites()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        _require_prerequisites()
