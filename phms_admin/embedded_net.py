"""Who may reach the embedded server, and from where: listen addresses and pg_hba.conf.

The embedded PostgreSQL has no OpenSSL, so anything it serves over a network is plain
text. Rules (docs/architecture.md, "Embedded server"):

- It listens on loopback unless told otherwise; a network address is refused unless
  ``--insecure-plaintext-network`` is given, and then it warns loudly every time.
- The superuser (``postgres``) and the owner of the PHMS objects (``phms_owner``) are
  reachable from this computer only (loopback), never from the network: pg_hba.conf
  lists this computer's lines for everyone first, then rejects those two from anywhere
  else, and only then lets staff (members of the PHMS groups) in from the network.
- The server always listens on 127.0.0.1 as well, so PHMS's own superuser work
  (creating databases, migrations, backups) always goes through loopback.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final

from phms_schema.roles import GROUPS, OWNER

SUPERUSER: Final = "postgres"
#: A listen_addresses item: a host name or an IP address (no quotes, no spaces).
_ITEM = re.compile(r"\*|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]+")
#: Items that already include 127.0.0.1.
_COVERS_LOOPBACK: Final = frozenset({"*", "0.0.0.0", "127.0.0.1", "localhost"})
INSECURE_FLAG: Final = "--insecure-plaintext-network"


class ListenError(ValueError):
    """The listen address is not usable; the message says why."""


def parse_listen(listen: str) -> tuple[str, ...]:
    """The items of a listen_addresses value, checked (never injected into the config)."""
    items = tuple(item.strip() for item in listen.split(","))
    if not items or any(not item for item in items):
        raise ListenError(f"listen address {listen!r} is empty or has an empty item.")
    for item in items:
        if not _ITEM.fullmatch(item):
            raise ListenError(f"listen address {item!r} is not a host name, an IP address or '*'.")
        if ":" in item:
            try:
                ipaddress.IPv6Address(item)
            except ValueError:
                raise ListenError(f"listen address {item!r} is not an IPv6 address.") from None
    return items


def is_loopback_item(item: str) -> bool:
    if item.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(item).is_loopback
    except ValueError:
        return False  # '*', 0.0.0.0 or a name: reachable from the network


def is_loopback(listen: str) -> bool:
    """True when every listen address is on this computer only."""
    return all(map(is_loopback_item, parse_listen(listen)))


def listen_addresses(listen: str) -> str:
    """The postgresql.conf value: the addresses asked for, with 127.0.0.1 always among them."""
    items = parse_listen(listen)
    if not any(item.lower() in _COVERS_LOOPBACK for item in items):
        items = ("127.0.0.1", *items)
    return ",".join(items)


def admin_host(listen: str) -> str:
    """Where PHMS's own superuser connections go: always a loopback address."""
    try:
        items = parse_listen(listen)
    except ListenError:
        return "127.0.0.1"
    for item in items:
        if is_loopback_item(item) and item.lower() not in ("localhost", "127.0.0.1"):
            return f"[{item}]" if ":" in item else item
        if item.lower() in _COVERS_LOOPBACK:
            return "127.0.0.1"
    return "127.0.0.1"  # listen_addresses() added it


HBA_HEADER: Final = "# Managed by PHMS (phms-admin server init). The first matching line wins."


def hba_conf(*, network: bool) -> str:
    """pg_hba.conf of an embedded server; the first matching line wins."""
    staff = ",".join(f"+{group}" for group in GROUPS.values())
    lines = [
        HBA_HEADER,
        "# TYPE  DATABASE     USER  ADDRESS  METHOD",
        "# This computer (loopback): everyone with a password, the superuser included.",
        "local   all          all                 scram-sha-256",
        "host    all          all   127.0.0.0/8   scram-sha-256",
        "host    all          all   ::1/128       scram-sha-256",
        "local   replication  all                 scram-sha-256",
        "host    replication  all   127.0.0.0/8   scram-sha-256",
        "host    replication  all   ::1/128       scram-sha-256",
        "# Never from the network: the superuser, the owner, replication.",
        f"host    all          {SUPERUSER},{OWNER}  all  reject",
        "host    replication  all   all  reject",
    ]
    if network:
        lines += [
            f"# Staff from this computer's own networks, WITHOUT TLS ({INSECURE_FLAG}).",
            f"host    all          {staff}  samenet  scram-sha-256",
        ]
    lines += ["# Everything else is refused.", "host    all          all   all  reject"]
    return "\n".join(lines) + "\n"


def refusal(listen: str) -> str:
    return (
        f"Refusing to listen on {listen!r}: the embedded server has no TLS, so patient "
        "data and everything staff type would cross the network unencrypted. For "
        "workstations on a network, set up the distribution's PostgreSQL with TLS "
        "(installer/server/setup-server.sh, see the admin guide). Only on a closed "
        f"test network, and knowing this, add {INSECURE_FLAG}."
    )


def network_warning(listen: str) -> str | None:
    """A loud warning for a server that listens on the network without TLS."""
    try:
        if is_loopback(listen):
            return None
    except ListenError:
        pass  # not understood: warn
    bar = "!" * 78
    return (
        f"{bar}\n"
        f"!! WARNING: NO ENCRYPTION. This server listens on {listen!r} WITHOUT TLS.\n"
        "!! Patient data and everything staff type cross the network in plain text;\n"
        "!! anyone on that network can read it. Passwords are protected by\n"
        "!! scram-sha-256; the superuser can log in from this computer only.\n"
        "!! For workstations on a network use installer/server/setup-server.sh (TLS).\n"
        f"{bar}"
    )
