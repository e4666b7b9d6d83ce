"""The registry upload's configuration file and the sender's own certificate checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from phms_admin import registry_client as rc
from phms_admin.connection import CommandError
from phms_admin.registry_upload_cmd import load_config, read_passphrase
from phms_client.services.registry_upload import Plan, banded, batch_count, smallest_group
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
    assert cfg.passphrase_file == (tmp_path / "rbh.pass").resolve()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('patients = "some"\n', "'patients'"),
        ("birth_year_band = 3\n", "birth_year_band"),
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


def doc(key: str, year: int, sex: str = "female", group: int | None = 1) -> dict[str, object]:
    return {"patient_key": key, "birth_year": year, "sex": sex, "ph_group": group, "records": []}


def test_bands_k_and_batches_that_keep_groups_whole() -> None:
    assert [banded(1958, b) for b in (1, 5, 10)] == [1958, 1955, 1950]
    with pytest.raises(ValueError, match="band"):
        banded(1958, 3)
    docs = [doc("a", 1950), doc("b", 1950), doc("c", 1950), doc("d", 1960), doc("e", 1961)]
    assert smallest_group(docs) == 1 and smallest_group([]) is None
    plan = Plan("RBH", 5, 0, tuple(docs), ("x" * 64, "y" * 64), 1)
    # Three groups (3, 1, 1) and two removals, at most two per batch: the group of three
    # stays whole (one batch of three), then {d, e}, then the removals.
    assert batch_count(plan, 2) == 3
    assert batch_count(plan, 500) == 1
