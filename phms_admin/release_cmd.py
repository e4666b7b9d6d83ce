"""phms-admin release keygen|publish|list|withdraw: client bundles the workstations fetch.

    phms-admin release keygen FILE [--passphrase-file F]
    phms-admin release publish BUNDLE --notes FILE --key FILE [--version V]
                               [--platform P] [--share DIR] [--passphrase-file F] [--url URL]
    phms-admin release list [--url URL]
    phms-admin release withdraw VERSION [--platform P] [--url URL]

The newest release of a platform that is not withdrawn is the recommended
version: clients older than it offer "Update now" after login. See
docs/admin-guide.md, "Publish a client release".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from phms_admin import release_key, release_store
from phms_admin.connection import resolve_url

URL_HELP = "database URL of an admin login (default: PHMS_DATABASE_URL)"
PASS_HELP = "file whose first line is the key's passphrase (default: asked on the terminal)"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("release", help="publish client bundles that workstations update to")
    cmds = p.add_subparsers(dest="release_command", required=True, metavar="COMMAND")

    keygen = cmds.add_parser("keygen", help="make the release signing key (keep it off the server)")
    keygen.add_argument("file", type=Path, help="private key file to create (mode 0600)")
    keygen.add_argument("--passphrase-file", type=Path, metavar="FILE", help=PASS_HELP)
    keygen.set_defaults(handler=cmd_keygen)

    publish = cmds.add_parser("publish", help="sign and store a client bundle (.tar.gz or .zip)")
    publish.add_argument("bundle", type=Path, help="the bundle: the phms folder, archived")
    publish.add_argument(
        "--notes",
        type=Path,
        required=True,
        metavar="FILE",
        help="release notes (UTF-8 text or Markdown): 'What's new'",
    )
    publish.add_argument(
        "--key",
        type=Path,
        required=True,
        metavar="FILE",
        help="the signing key made by 'release keygen'",
    )
    publish.add_argument("--version", help="the bundle's version (checked against the bundle)")
    publish.add_argument(
        "--platform",
        help="linux-x86_64, windows-x86_64 … (default: from the bundle's program, x86_64)",
    )
    publish.add_argument(
        "--share",
        type=Path,
        metavar="DIR",
        help="put the bundle on this file share instead of in the database "
        "(workstations read it from their site file's release_share)",
    )
    publish.add_argument("--passphrase-file", type=Path, metavar="FILE", help=PASS_HELP)
    publish.set_defaults(handler=cmd_publish)

    lst = cmds.add_parser("list", help="list published releases; mark the recommended ones")
    lst.set_defaults(handler=cmd_list)

    withdraw = cmds.add_parser("withdraw", help="stop offering a release (it stays listed)")
    withdraw.add_argument("version")
    withdraw.add_argument("--platform", help="only this platform's release")
    withdraw.set_defaults(handler=cmd_withdraw)

    for cmd in (publish, lst, withdraw):
        cmd.add_argument("--url", help=URL_HELP)


def cmd_keygen(args: argparse.Namespace) -> int:
    passphrase = release_key.read_passphrase(
        args.passphrase_file, f"the new key {args.file}", confirm=True
    )
    public = release_key.generate(args.file, passphrase)
    print(
        f"Release signing key written to {args.file} (keep it, and its passphrase, off the server)."
    )
    print("Put this line in every workstation's site file (client.toml):")
    print(f'release_public_key = "{public}"')
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    notes = release_store.read_notes(args.notes)
    passphrase = release_key.read_passphrase(args.passphrase_file, f"the signing key {args.key}")
    key = release_key.load(args.key, passphrase)
    done = release_store.publish(
        resolve_url(args.url),
        args.bundle,
        notes,
        key,
        version=args.version,
        platform=args.platform,
        share=args.share,
    )
    where = "in the database" if done.storage == "database" else f"on {args.share}"
    print(
        f"Published PHMS {done.version} for {done.platform}: {done.filename}, "
        f"{done.size / 1e6:.1f} MB {where}, SHA-256 {done.sha256}."
    )
    print("Workstations with an older PHMS offer 'Update now' at their next login.")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    releases = release_store.list_releases(resolve_url(args.url))
    if not releases:
        print("No client release has been published.")
        return 0
    print(
        f"{'VERSION':<14}{'PLATFORM':<18}{'SIZE':>9}  {'STORED':<10}{'PUBLISHED':<18}"
        f"{'BY':<16}STATE"
    )
    for r in releases:
        state = "recommended" if r.recommended else ("withdrawn" if r.withdrawn else "")
        print(
            f"{r.version:<14}{r.platform:<18}{r.size / 1e6:>6.1f} MB  {r.storage:<10}"
            f"{r.published_at:%Y-%m-%d %H:%M}  {r.published_by:<16}{state}"
        )
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    count = release_store.withdraw(resolve_url(args.url), args.version, args.platform)
    print(f"PHMS {args.version} is no longer offered ({count} release(s) withdrawn).")
    return 0
