#!/usr/bin/env bash
# Install a PHMS client bundle built with phms.spec on a Linux workstation:
# the program folder in /opt/phms, the menu entry and its icon.
#
#   sudo bash installer/client/install-linux.sh dist/phms [--destdir DIR]
#
# The workstation's server settings come from /etc/phms/client.toml and root.crt,
# made by installer/server/setup-server.sh (see docs/admin-guide.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bundle=${1:?usage: install-linux.sh BUNDLE_DIR [--destdir DIR]}
destdir=''
if [ "${2:-}" = --destdir ]; then destdir=${3:?--destdir needs a folder}; fi
[ -x "$bundle/phms" ] || { echo "install-linux: $bundle/phms not found (build with phms.spec)" >&2; exit 1; }

prefix=$destdir/opt/phms
rm -rf "$prefix.new"
mkdir -p "$(dirname "$prefix")"
cp -a "$bundle" "$prefix.new"
rm -rf "$prefix.old"
[ -d "$prefix" ] && mv "$prefix" "$prefix.old"
mv "$prefix.new" "$prefix"
rm -rf "$prefix.old"
install -D -m 644 "$here/phms.desktop" "$destdir/usr/share/applications/phms.desktop"
install -D -m 644 "$here/phms.svg" "$destdir/usr/share/icons/hicolor/scalable/apps/phms.svg"
install -d -m 755 "$destdir/etc/phms"
if [ -z "$destdir" ] && command -v update-desktop-database >/dev/null; then
    update-desktop-database -q /usr/share/applications || true
fi
echo "install-linux: PHMS $("$prefix/phms" --version | cut -d' ' -f2) installed in $prefix"
[ -f "$destdir/etc/phms/client.toml" ] ||
    echo "install-linux: now copy the server's client.toml and root.crt to $destdir/etc/phms/"
