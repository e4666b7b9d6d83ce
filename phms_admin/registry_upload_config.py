"""The registry upload's configuration file, read and checked (``registry-upload``).

The configuration file (TOML; default ``$PHMS_REGISTRY_UPLOAD_CONFIG``, else
``/etc/phms/registry-upload.toml``) names the registry, the hospital ID, the
registry's CA, this hospital's client certificate and key, and the file that
holds the key's passphrase (else it is asked for on the terminal; never on the
command line)::

    registry_url = "https://registry.example.org:8443"
    hospital_id = "RBH"
    ca_file = "registry-ca.crt"          # relative to this file's folder
    cert_file = "hospital.crt"
    key_file = "hospital.key"
    passphrase_file = "hospital.pass"
    patients = "ph-only"                 # or "all"
    min_k = 5                            # default: the registry's threshold
    birth_year_band = 1                  # the least coarse band: 1, 5 or 10
    shift_dates = false
    batch_size = 500
    timeout_seconds = 60                 # wait this long for each answer

Every setting is checked here, with the file and the setting named in the
message; an unknown setting is an error (a typo must not be ignored).
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from phms_admin import registry_client as rc
from phms_admin.connection import CommandError
from phms_client.services import registry_upload
from phms_schema.registry_format import BIRTH_YEAR_BANDS

DEFAULT_CONFIG: Final = Path("/etc/phms/registry-upload.toml")
CONFIG_ENV: Final = "PHMS_REGISTRY_UPLOAD_CONFIG"
KEYS: Final = frozenset(
    {
        "registry_url",
        "hospital_id",
        "ca_file",
        "cert_file",
        "key_file",
        "passphrase_file",
        "patients",
        "min_k",
        "birth_year_band",
        "shift_dates",
        "batch_size",
        "secret_file",
        "timeout_seconds",
    }
)

MAX_K: Final = 1000


@dataclass(frozen=True)
class UploadConfig:
    endpoint: rc.Endpoint
    hospital_id: str
    passphrase_file: Path | None
    ph_only: bool
    #: The k the ladder generalises to; ``None``: the registry's threshold (else 5).
    min_k: int | None
    #: The least coarse birth-year band (the ladder starts there).
    birth_year_band: int
    shift_dates: bool
    batch_size: int
    secret_file: Path | None

    def asking(self, min_k: int | None) -> UploadConfig:
        """This configuration with ``--min-k`` applied (``None``: unchanged)."""
        return self if min_k is None else dataclasses.replace(self, min_k=min_k)


def load_config(path: Path) -> UploadConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(
            f"Cannot read the registry upload configuration {path}: {exc.strerror or exc}"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CommandError(f"{path}: not valid TOML ({exc})") from exc
    unknown = set(raw) - KEYS
    if unknown:
        raise CommandError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}")

    def text(key: str, required: bool = True) -> str | None:
        value = raw.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            raise CommandError(f"{path}: '{key}' must be set (text)")
        return value.strip()

    def file(key: str, required: bool = True) -> Path | None:
        value = text(key, required)
        return None if value is None else (path.parent / value).resolve()

    patients = raw.get("patients", "ph-only")
    if patients not in ("ph-only", "all"):
        raise CommandError(f'{path}: \'patients\' is "ph-only" or "all"')
    band = raw.get("birth_year_band", 1)
    if band not in BIRTH_YEAR_BANDS or isinstance(band, bool):
        raise CommandError(f"{path}: 'birth_year_band' is one of {BIRTH_YEAR_BANDS}")
    min_k = raw.get("min_k")
    if min_k is not None and (
        isinstance(min_k, bool) or not isinstance(min_k, int) or not 1 <= min_k <= MAX_K
    ):
        raise CommandError(f"{path}: 'min_k' is a whole number from 1 to {MAX_K}")
    timeout = raw.get("timeout_seconds", rc.TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 1 <= timeout <= 600:
        raise CommandError(f"{path}: 'timeout_seconds' is a number from 1 to 600")
    batch_size = raw.get("batch_size", registry_upload.DEFAULT_BATCH_SIZE)
    if not isinstance(batch_size, int) or not 1 <= batch_size <= 5000:
        raise CommandError(f"{path}: 'batch_size' is a number from 1 to 5000")
    hospital_id = text("hospital_id")
    assert hospital_id is not None
    if len(hospital_id) > 64:
        raise CommandError(f"{path}: 'hospital_id' is at most 64 characters")
    url, ca, cert, key = text("registry_url"), file("ca_file"), file("cert_file"), file("key_file")
    assert url is not None and ca is not None and cert is not None and key is not None
    if len(url) > 500:
        raise CommandError(f"{path}: 'registry_url' is at most 500 characters")
    return UploadConfig(
        endpoint=rc.Endpoint(url, ca, cert, key, float(timeout)),
        hospital_id=hospital_id,
        passphrase_file=file("passphrase_file", required=False),
        ph_only=patients == "ph-only",
        min_k=min_k,
        birth_year_band=int(band),
        shift_dates=bool(raw.get("shift_dates", False)),
        batch_size=batch_size,
        secret_file=file("secret_file", required=False),
    )


def read_passphrase(cfg: UploadConfig) -> bytes:
    if cfg.passphrase_file is not None:
        try:
            return cfg.passphrase_file.read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise CommandError(
                f"Cannot read the passphrase file {cfg.passphrase_file}: {exc.strerror or exc}"
            ) from exc
    if not sys.stdin.isatty():
        raise CommandError(
            "No passphrase: set passphrase_file in the configuration (a scheduled upload has "
            "nobody to ask)."
        )
    return getpass.getpass(f"Passphrase of {cfg.endpoint.key_file}: ").encode("utf-8")


def min_k_argument(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_K:
        raise argparse.ArgumentTypeError(f"K must be between 1 and {MAX_K}")
    return value
