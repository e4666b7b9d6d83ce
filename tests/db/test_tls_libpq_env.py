"""libpq's own environment cannot lower the encryption the client's settings chose.

The client always passes ``sslmode`` itself, so PGSSLMODE, PGREQUIRESSL or a service
file from the workstation's environment never apply. Proven against the test server,
which has no TLS: asked for ``require``, the connection must fail whatever the
environment says.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from phms_admin import embedded
from phms_client.config import ClientConfig, load_config


def client_config(server: embedded.ServerInfo, tmp_path: Path, sslmode: str) -> ClientConfig:
    env = {"PHMS_SERVER": f"127.0.0.1:{server.port}", "PHMS_SSLMODE": sslmode}
    env["PHMS_DATABASE"] = "postgres"
    none = tmp_path / "none.toml"
    return load_config(site_path=none, user_path=none, environ=env)


@pytest.mark.parametrize(
    "environment",
    [
        {"PGSSLMODE": "disable"},
        {"PGREQUIRESSL": "0"},
        {"PGSERVICE": "downgrade"},
        {"PGSSLMODE": "allow", "PGSERVICE": "downgrade", "PGGSSENCMODE": "disable"},
    ],
)
def test_libpq_environment_cannot_lower_the_clients_sslmode(
    pg_server: embedded.ServerInfo,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
) -> None:
    services = tmp_path / "pg_service.conf"
    services.write_text("[downgrade]\nsslmode=disable\n")
    monkeypatch.setenv("PGSERVICEFILE", str(services))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = client_config(pg_server, tmp_path, "require")
    kwargs = config.conninfo_kwargs(embedded.SUPERUSER, pg_server.password)
    with pytest.raises(psycopg.OperationalError, match="server does not support SSL"):
        psycopg.connect(**kwargs)  # type: ignore[arg-type]
    # The server is there: the client's own "disable" (this computer) gets in.
    config = client_config(pg_server, tmp_path, "disable")
    kwargs = config.conninfo_kwargs(embedded.SUPERUSER, pg_server.password)
    with psycopg.connect(**kwargs) as conn:  # type: ignore[arg-type]
        assert conn.execute("SELECT 1").fetchone() == (1,)
