"""How far encryption may be lowered: the rules behind ``sslmode`` in the client's layers.

Two rules, both decided here so that the loader, the Settings window and the tests
cannot disagree:

1. **An sslmode belongs to the servers it was written for.** A layer's ``sslmode``
   applies to the hosts in effect at that layer. When a later layer names other hosts
   without an sslmode of its own, the earlier sslmode is dropped and the default for
   the new hosts applies (``disable`` on this computer, ``verify-full`` otherwise).
   So ``sslmode = "disable"`` written for ``localhost`` never reaches a network server.
2. **The site file sets the floor for network servers.** For any host that is not on
   this computer, the effective mode is never below the site's: the site file's own
   ``sslmode`` when it was written for a network server, else ``verify-full``. A user
   file, an environment variable or the command line asking for less is refused, with
   a message that names the setting and where it came from.

Order of the modes, weakest first: disable < allow < prefer < require < verify-ca <
verify-full. Hosts on this computer (``localhost``, any loopback address, a Unix
socket folder) may use any mode. A list of hosts with one network host among them is
a network server.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_FLOOR",
    "SSLMODE_ORDER",
    "TlsFloor",
    "below_floor",
    "default_sslmode",
    "is_local_host",
    "is_socket_path",
    "same_hosts",
]

SSLMODE_ORDER: Final = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_FLOOR: Final = "verify-full"
LOCAL_NAMES: Final = frozenset({"localhost"})


def is_socket_path(host: str) -> bool:
    """True for a unix-domain socket directory (libpq treats these as non-TCP hosts)."""
    return host.startswith(("/", "@"))


def is_local_host(host: str) -> bool:
    """True when ``host`` can only be this computer: localhost, loopback, a socket."""
    if is_socket_path(host) or host.lower() in LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything, so it is a network server


def is_network(hosts: Iterable[str]) -> bool:
    return not all(map(is_local_host, hosts))


def default_sslmode(hosts: Iterable[str]) -> str:
    return DEFAULT_FLOOR if is_network(hosts) else "disable"


def same_hosts(a: Iterable[str], b: Iterable[str]) -> bool:
    return [h.lower() for h in a] == [h.lower() for h in b]


def rank(mode: str) -> int:
    return SSLMODE_ORDER.index(mode)


@dataclass(frozen=True)
class TlsFloor:
    """The weakest mode allowed for a network server, and who said so."""

    mode: str = DEFAULT_FLOOR
    source: str = "the built-in default"

    @classmethod
    def from_site(cls, mode: str | None, hosts: Iterable[str], source: str) -> TlsFloor:
        """The site file's sslmode is the floor only if it was written for a network server."""
        if mode is None or not is_network(hosts):
            return cls()
        return cls(mode, source)


def below_floor(mode: str, source: str, hosts: Iterable[str], floor: TlsFloor) -> str | None:
    """Why ``mode`` (from ``source``) may not be used for ``hosts``; None when it may."""
    hosts = tuple(hosts)
    if not is_network(hosts) or rank(mode) >= rank(floor.mode):
        return None
    network = ", ".join(h for h in hosts if not is_local_host(h))
    return (
        f"Encryption (sslmode) {mode!r} from {source} is below {floor.mode!r}, the weakest "
        f"allowed for a network server ({network}; set by {floor.source}). Use "
        f"{floor.mode!r} or stronger, or remove that setting; only IT can lower it, "
        "in the site file."
    )
