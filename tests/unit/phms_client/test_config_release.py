"""The update settings come from the site file only (phms_client.config_release)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from phms_client.config import ConfigError, load_config, save_user_config
from phms_client.config_release import ReleaseSettings, load_site_release

KEY = base64.b64encode(bytes(range(32))).decode()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_site_file_sets_key_share_and_folder(tmp_path: Path) -> None:
    site = write(
        tmp_path / "site" / "client.toml",
        f'release_public_key = "{KEY}"\nrelease_share = "releases"\n'
        'update_folder = "/srv/phms/versions"\nserver = "db.clinic.local"\n',
    )
    config = load_config(site_path=site, user_path=tmp_path / "none.toml", environ={})
    assert config.release == ReleaseSettings(
        KEY, tmp_path / "site" / "releases", Path("/srv/phms/versions")
    )
    assert config.release.updates_configured
    assert config.hosts == ("db.clinic.local",)
    assert load_site_release(site) == config.release


def test_without_a_key_no_updates_are_offered(tmp_path: Path) -> None:
    config = load_config(site_path=tmp_path / "a", user_path=tmp_path / "b", environ={})
    assert config.release == ReleaseSettings()
    assert not config.release.updates_configured


@pytest.mark.parametrize("key", ["release_public_key", "release_share", "update_folder"])
def test_a_user_file_may_not_set_them(tmp_path: Path, key: str) -> None:
    site = write(tmp_path / "site.toml", f'release_public_key = "{KEY}"\n')
    user = write(tmp_path / "user.toml", f'{key} = "{KEY}"\n')
    with pytest.raises(ConfigError, match=f"{key} can only be set by IT, in the site file"):
        load_config(site_path=site, user_path=user, environ={})


def test_the_settings_window_cannot_write_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        save_user_config({"release_public_key": KEY}, tmp_path / "user.toml")


@pytest.mark.parametrize("value", ['"not base64"', f'"{KEY[:-8]}"', "42"])
def test_a_bad_key_is_refused_by_name(tmp_path: Path, value: str) -> None:
    site = write(tmp_path / "site.toml", f"release_public_key = {value}\n")
    with pytest.raises(ConfigError, match="release_public_key is not an Ed25519 public key"):
        load_config(site_path=site, user_path=tmp_path / "none", environ={})
    assert load_site_release(site) == ReleaseSettings()  # the launcher just starts as is
