#!/usr/bin/env bash
# Install the daily registry upload (phms-admin registry-upload) as a systemd timer,
# next to the nightly backup. setup-server.sh calls this with --registry-config; it can
# also be run on its own.
#
#   bash installer/server/registry-upload-units.sh --admin-cmd /opt/phms/venv/bin/phms-admin \
#       --config /etc/phms/registry-upload.toml --url 'postgresql://postgres@/phms?host=...' \
#       [--time 04:00] [--after postgresql@15-main.service] [--systemd-dir /etc/systemd/system]
#
# The service runs as root, who reaches the database as its superuser through the local
# socket (as the backups do), and reads the configuration, the hospital's key and its
# passphrase file (all root-only, mode 0600). Its output goes to the journal
# (journalctl -u phms-registry-upload); every run is also logged in the database, where
# 'phms-admin registry-upload --status' and Preferences show it.
set -euo pipefail

die() { echo "registry-upload-units: error: $*" >&2; exit 1; }

admin_cmd='' config='' url='' time=04:00 after='' systemd_dir=/etc/systemd/system
while (($#)); do
    case "$1" in
        --admin-cmd) admin_cmd=${2:?}; shift ;;
        --config) config=${2:?}; shift ;;
        --url) url=${2:?}; shift ;;
        --time) time=${2:?}; shift ;;
        --after) after=${2:?}; shift ;;
        --systemd-dir) systemd_dir=${2:?}; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) die "unknown option $1" ;;
    esac
    shift
done
[ -n "$admin_cmd" ] && [ -n "$config" ] && [ -n "$url" ] || die "--admin-cmd, --config and --url are needed."
[[ $time =~ ^[0-2][0-9]:[0-5][0-9]$ ]] || die "--time must be HH:MM."
[[ $config == /* && $config != *[[:space:]]* ]] || die "--config must be an absolute path without spaces."
[ -f "$config" ] || die "no registry upload configuration at $config (see docs/admin-guide.md)."
if [ "$(stat -c %a "$config")" != 600 ]; then
    chmod 600 "$config"
    echo "registry-upload-units: made $config readable by its owner only"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
deps=''
[ -n "$after" ] && deps="After=$after
Wants=$after"
cat >"$work/phms-registry-upload.service" <<UNIT
# Managed by PHMS installer/server/registry-upload-units.sh
[Unit]
Description=PHMS daily upload to the national PH registry (mutual TLS, incremental)
Wants=network-online.target
After=network-online.target phms-backup.service
$deps

[Service]
Type=oneshot
User=root
UMask=0077
Environment="PHMS_DATABASE_URL=$url"
ExecStart=$admin_cmd registry-upload --config $config
TimeoutStartSec=2h
Nice=10
PrivateTmp=yes
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=read-only
UNIT
cat >"$work/phms-registry-upload.timer" <<UNIT
# Managed by PHMS installer/server/registry-upload-units.sh
[Unit]
Description=Daily PHMS upload to the national PH registry

[Timer]
OnCalendar=*-*-* $time:00
Persistent=true
RandomizedDelaySec=15min

[Install]
WantedBy=timers.target
UNIT

install -d -m 755 "$systemd_dir"
changed=0
for unit in phms-registry-upload.service phms-registry-upload.timer; do
    if ! cmp -s "$work/$unit" "$systemd_dir/$unit" 2>/dev/null; then
        install -m 644 "$work/$unit" "$systemd_dir/$unit"
        changed=1
    fi
done
if [ -d /run/systemd/system ] && [ "$systemd_dir" = /etc/systemd/system ]; then
    ((changed)) && systemctl daemon-reload
    systemctl enable --now --quiet phms-registry-upload.timer
    echo "registry-upload-units: daily registry upload at $time enabled (systemctl list-timers 'phms-*')"
else
    echo "registry-upload-units: WARNING: the units are in $systemd_dir but NOT enabled (systemd" >&2
    echo "  is not running here, or that is not its folder). Enable phms-registry-upload.timer," >&2
    echo "  or schedule this daily: PHMS_DATABASE_URL='$url' $admin_cmd registry-upload --config $config" >&2
fi
