"""The registry upload's configuration file and the sender's own certificate checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from phms_admin import registry_client as rc
from phms_admin.connection import CommandError
from phms_admin.registry_upload_cmd import load_config, read_passphrase
from phms_registry import pki

GOOD = """registry_url = "https://registry.example.org:8443"
hospital_id = "RBH"
ca_file = "ca.crt"
cert_file = "certs/rbh.crt"
key_file = "certs/rbh.key"
passphrase_file = "rbh.pass"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry-upload.toml"
    path.write_text(text)
    return path


def test_paths_are_relative_to_the_file_and_defaults_apply(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.endpoint.cert_file == (tmp_path / "certs" / "rbh.crt").resolve()
    assert cfg.endpoint.host_port == ("registry.example.org", 8443)
    assert (cfg.ph_only, cfg.birth_year_band, cfg.shift_dates) == (True, 1, False)
    assert cfg.min_k is None  # the registry's threshold, asked when connecting
    assert cfg.asking(7).min_k == 7 and cfg.asking(None) is cfg
    assert load_config(write(tmp_path, GOOD + "min_k = 3\n")).min_k == 3
    assert cfg.passphrase_file == (tmp_path / "rbh.pass").resolve()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('patients = "some"\n', "'patients'"),
        ("birth_year_band = 3\n", "birth_year_band"),
        ("min_k = 0\n", "'min_k' is a whole number from 1 to 1000"),
        ('min_k = "5"\n', "'min_k'"),
        ("min_k = true\n", "'min_k'"),
        ("batch_size = 0\n", "batch_size"),
        ("timeout_seconds = 0\n", "timeout_seconds"),
        ('passphrase = "on the command line"\n', "unknown setting"),
        ("[oops\n", "not valid TOML"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        load_config(write(tmp_path, GOOD + extra))


def test_missing_file_and_missing_passphrase(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="Cannot read the registry upload configuration"):
        load_config(tmp_path / "none.toml")
    cfg = load_config(write(tmp_path, GOOD.replace('passphrase_file = "rbh.pass"\n', "")))
    with pytest.raises(CommandError, match="No passphrase"):
        read_passphrase(cfg)  # stdin is not a terminal under pytest


def test_credentials_are_checked_before_connecting(tmp_path: Path) -> None:
    pki.create_ca(tmp_path / "ca")
    issued = pki.issue_hospital(tmp_path / "ca", tmp_path, "RBH", b"passphrase-1")
    endpoint = rc.Endpoint("https://r:1", tmp_path / "ca" / "ca.crt", issued.cert_path,
                           issued.key_path)  # fmt: skip
    rc.check_credentials(endpoint, b"passphrase-1", "RBH")
    with pytest.raises(rc.RegistryError, match="Wrong passphrase"):
        rc.check_credentials(endpoint, b"passphrase-2", "RBH")
    with pytest.raises(rc.RegistryError, match="needs its passphrase"):
        rc.check_credentials(endpoint, b"", "RBH")
    with pytest.raises(rc.RegistryError, match="does not match the certificate"):
        rc.check_credentials(endpoint, b"passphrase-1", "CHU")
    later = issued.not_after + dt.timedelta(seconds=1)
    with pytest.raises(rc.RegistryError, match="expired on"):
        rc.check_credentials(endpoint, b"passphrase-1", "RBH", now=later)
    earlier = issued.not_before - dt.timedelta(seconds=1)
    with pytest.raises(rc.RegistryError, match="not valid yet"):
        rc.check_credentials(endpoint, b"passphrase-1", "RBH", now=earlier)
    with pytest.raises(rc.RegistryError, match="must be https"):
        _ = rc.Endpoint("http://r", endpoint.ca_file, issued.cert_path, issued.key_path).host_port
