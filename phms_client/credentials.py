"""Remembered passwords, kept in the operating system's credential store (keyring).

The service name is ``"phms:" + server_key`` (see ``ClientConfig.credential_key``), so
passwords for different servers never mix. Every keyring failure (no backend, locked
keychain, D-Bus trouble) becomes :class:`CredentialStoreUnavailable` with a plain
message, or ``None`` from :func:`recall`; the password itself is never logged.
"""

from __future__ import annotations

import logging
from types import ModuleType
from typing import Final

__all__ = [
    "SERVICE_PREFIX",
    "CredentialStoreUnavailable",
    "forget",
    "recall",
    "remember",
    "service_name",
]

log = logging.getLogger(__name__)

SERVICE_PREFIX: Final = "phms:"

_UNAVAILABLE = (
    "This computer's password store (keychain) is not available, so PHMS cannot "
    "remember your password. You can still log in by typing it each time."
)


class CredentialStoreUnavailable(Exception):
    """The OS credential store cannot be used; ``str()`` is a message for the user."""


def _keyring() -> ModuleType:
    """keyring, loaded when first needed (it looks for a backend: the login window
    shows without waiting for it)."""
    import keyring
    import keyring.errors

    return keyring


def service_name(server_key: str) -> str:
    if not server_key:
        raise ValueError("server_key must not be empty")
    return SERVICE_PREFIX + server_key


def remember(server_key: str, user: str, password: str) -> None:
    """Store ``password`` for ``user`` on this server; raise if the store is unusable."""
    service = service_name(server_key)
    keyring = _keyring()
    try:
        keyring.set_password(service, user, password)
    except Exception as exc:
        log.warning("credential store: cannot save for %s: %s", service, type(exc).__name__)
        raise CredentialStoreUnavailable(_UNAVAILABLE) from exc


def recall(server_key: str, user: str) -> str | None:
    """The remembered password, or None if there is none or the store is unusable."""
    service = service_name(server_key)
    keyring = _keyring()
    try:
        password: str | None = keyring.get_password(service, user)
    except keyring.errors.NoKeyringError:
        # No store on this computer (common on Linux without a desktop keychain):
        # nothing can have been remembered, and that is no fault worth a warning.
        log.info("credential store: none on this computer")
        return None
    except Exception as exc:
        log.warning("credential store: cannot read for %s: %s", service, type(exc).__name__)
        return None
    return password


def forget(server_key: str, user: str) -> None:
    """Delete the remembered password; forgetting one that is not stored is fine."""
    service = service_name(server_key)
    keyring = _keyring()
    try:
        keyring.delete_password(service, user)
    except keyring.errors.PasswordDeleteError:
        return  # nothing was stored
    except keyring.errors.NoKeyringError:
        return  # no store on this computer, so nothing can have been stored
    except Exception as exc:
        log.warning("credential store: cannot delete for %s: %s", service, type(exc).__name__)
        raise CredentialStoreUnavailable(
            "This computer's password store (keychain) is not available, so PHMS could "
            "not remove the remembered password. Try again after unlocking the keychain."
        ) from exc
