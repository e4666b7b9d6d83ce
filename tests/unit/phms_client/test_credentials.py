from __future__ import annotations

import logging
from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest

from phms_client import credentials
from phms_client.credentials import CredentialStoreUnavailable, forget, recall, remember


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real (if volatile) keyring backend: a dict instead of the OS store."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        try:
            del self.store[(service, username)]
        except KeyError:
            raise keyring.errors.PasswordDeleteError("not found") from None


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")


@pytest.fixture
def use_backend() -> Iterator[None]:
    previous = keyring.get_keyring()
    yield
    keyring.set_keyring(previous)


@pytest.fixture
def memory(use_backend: None) -> MemoryKeyring:
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    return backend


@pytest.fixture
def failing(use_backend: None) -> None:
    keyring.set_keyring(keyring.backends.fail.Keyring())


def test_remember_and_recall(memory: MemoryKeyring) -> None:
    remember("db:5432/phms", "alice", "s3cret")
    assert memory.store == {("phms:db:5432/phms", "alice"): "s3cret"}
    assert recall("db:5432/phms", "alice") == "s3cret"


def test_servers_and_users_are_kept_apart(memory: MemoryKeyring) -> None:
    remember("a:5432/phms", "alice", "one")
    remember("b:5432/phms", "alice", "two")
    assert recall("a:5432/phms", "alice") == "one"
    assert recall("b:5432/phms", "alice") == "two"
    assert recall("a:5432/phms", "bob") is None


def test_forget(memory: MemoryKeyring) -> None:
    remember("db", "alice", "pw")
    forget("db", "alice")
    assert recall("db", "alice") is None
    assert memory.store == {}
    forget("db", "alice")  # forgetting twice is fine


def test_remember_without_backend_raises_plain_message(failing: None) -> None:
    with pytest.raises(CredentialStoreUnavailable) as info:
        remember("db", "alice", "pw")
    assert "password store" in str(info.value)
    assert isinstance(info.value.__cause__, keyring.errors.NoKeyringError)


def test_recall_without_backend_is_none_and_quiet(
    failing: None, caplog: pytest.LogCaptureFixture
) -> None:
    # No keychain is normal on many workstations: no warning on every start.
    with caplog.at_level(logging.WARNING):
        assert recall("db", "alice") is None
    assert caplog.records == []


def test_forget_without_backend_is_nothing_to_do(failing: None) -> None:
    # Without a store nothing can have been remembered, so there is nothing to remove.
    forget("db", "alice")


def test_forget_from_a_locked_store_raises(use_backend: None) -> None:
    class LockedDelete(MemoryKeyring):
        def delete_password(self, service: str, username: str) -> None:
            raise keyring.errors.KeyringLocked("locked")

    keyring.set_keyring(LockedDelete())
    with pytest.raises(CredentialStoreUnavailable, match="could not remove"):
        forget("db", "alice")


def test_locked_store_recall_is_none_and_password_not_logged(
    use_backend: None, caplog: pytest.LogCaptureFixture
) -> None:
    backend = LockedKeyring()
    keyring.set_keyring(backend)
    remember("db", "alice", "topsecret")  # set works on this backend
    with caplog.at_level(logging.DEBUG, logger="phms_client.credentials"):
        assert recall("db", "alice") is None
    assert "KeyringLocked" in caplog.text
    assert "topsecret" not in caplog.text


def test_empty_server_key_is_a_bug() -> None:
    with pytest.raises(ValueError):
        credentials.service_name("")
