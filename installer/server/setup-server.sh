#!/usr/bin/env bash
# PHMS server setup for Debian and Ubuntu: the distribution's PostgreSQL with TLS,
# the phms database at the current schema, and a nightly backup timer.
#
#   sudo bash installer/server/setup-server.sh --server-name db.clinic.local [options]
#
# Safe to run again (after an upgrade, to add a server name, to renew the certificate):
# it only changes what differs from the wanted state, and never regenerates the site CA.
#
# Decisions (docs/admin-guide.md explains them):
# - Workstations reach the server only over TLS (hostssl) with scram-sha-256 passwords,
#   and only as members of the PHMS staff groups; everything else is refused: any
#   connection without TLS (hostnossl ... reject), and the superuser and the owner
#   from any address, listed before the staff lines so no group membership lets them in.
# - Migrations and backups run ON the server as root, who is mapped to the postgres
#   superuser through the local socket (peer authentication, pg_ident map). No superuser
#   password exists and no superuser can log in over the network.
# - The site CA (ETC/tls/ca.key) signs the server certificate; workstations trust it
#   through ETC/workstation/root.crt and connect with sslmode=verify-full.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: setup-server.sh [options]

  --server-name NAME   DNS name or IP address the workstations use (repeatable, or
                       comma-separated); goes into the certificate. Default: hostname -f
  --port PORT          PostgreSQL port (default 5432)
  --listen ADDRESSES   listen_addresses (default '*')
  --allow ADDRESS      network allowed to connect (repeatable; default samenet)
  --allow-replication ADDRESS
                       a hot standby at this address may stream from this server as
                       phms_replicator (created if missing; password from
                       PHMS_REPLICATION_PASSWORD, else generated and shown once)
  --cluster NAME       Debian cluster name (default main)
  --pg-version N       PostgreSQL major version (default: the distribution's)
  --database NAME      database name (default phms)
  --cert F --key F --ca F
                       use this server certificate and key, signed by this CA,
                       instead of generating a site CA
  --phms-venv DIR      use the PHMS installed in this virtual environment
  --venv DIR           else install PHMS into this new venv (default /opt/phms/venv)
  --source DIR         ...from this source folder (default: this checkout)
  --admin NAME         create this first admin login if missing (password from
                       PHMS_ADMIN_PASSWORD, else generated and shown once)
  --backup-dest DIR    nightly backups (default /var/backups/phms)
  --backup-copy-to DIR off-site copy of each backup (e.g. a mounted NAS)
  --keep-days N        days of backups to keep (default 5)
  --backup-time HH:MM  time of the nightly backup (default 02:30)
  --encrypt-backups    encrypt backups with ETC/backup.key (generated if missing)
  --registry-config F  also upload to the national registry daily with this
                       registry-upload.toml (docs/admin-guide.md, "Registry upload")
  --registry-time HH:MM  time of the daily registry upload (default 04:00)
  --etc-dir DIR        PHMS configuration (default /etc/phms)
  --systemd-dir DIR    where to install the units (default /etc/systemd/system)
EOF
}

die() { echo "setup-server: error: $*" >&2; exit 1; }
say() { echo "setup-server: $*"; }

names=() allow=() replicas=() port=5432 listen='*' cluster=main pg_version='' database=phms
cert='' key='' ca='' phms_venv='' venv=/opt/phms/venv source_dir='' admin=''
backup_dest=/var/backups/phms copy_to='' keep_days=5 backup_time=02:30 encrypt=0
etc_dir=/etc/phms systemd_dir=/etc/systemd/system registry_config='' registry_time=04:00

while (($#)); do
    case "$1" in
        --server-name) IFS=',' read -r -a more <<<"${2:?}"; names+=("${more[@]}"); shift ;;
        --port) port=${2:?}; shift ;;
        --listen) listen=${2:?}; shift ;;
        --allow) allow+=("${2:?}"); shift ;;
        --allow-replication) replicas+=("${2:?}"); shift ;;
        --cluster) cluster=${2:?}; shift ;;
        --pg-version) pg_version=${2:?}; shift ;;
        --database) database=${2:?}; shift ;;
        --cert) cert=${2:?}; shift ;;
        --key) key=${2:?}; shift ;;
        --ca) ca=${2:?}; shift ;;
        --phms-venv) phms_venv=${2:?}; shift ;;
        --venv) venv=${2:?}; shift ;;
        --source) source_dir=${2:?}; shift ;;
        --admin) admin=${2:?}; shift ;;
        --backup-dest) backup_dest=${2:?}; shift ;;
        --backup-copy-to) copy_to=${2:?}; shift ;;
        --keep-days) keep_days=${2:?}; shift ;;
        --backup-time) backup_time=${2:?}; shift ;;
        --encrypt-backups) encrypt=1 ;;
        --registry-config) registry_config=${2:?}; shift ;;
        --registry-time) registry_time=${2:?}; shift ;;
        --etc-dir) etc_dir=${2:?}; shift ;;
        --systemd-dir) systemd_dir=${2:?}; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option $1" ;;
    esac
    shift
done

[ "$(id -u)" -eq 0 ] || die "run me as root (sudo)."
command -v apt-get >/dev/null || die "this script is for Debian/Ubuntu (apt-get not found)."
[[ $port =~ ^[0-9]+$ ]] || die "--port must be a number."
[[ $database =~ ^[a-z_][a-z0-9_]*$ ]] || die "--database must be a plain lower-case name."
[[ $cluster =~ ^[A-Za-z0-9_-]+$ ]] || die "--cluster must be a plain name."
[[ $keep_days =~ ^[0-9]+$ ]] || die "--keep-days must be a number."
[[ $backup_time =~ ^[0-2][0-9]:[0-5][0-9]$ ]] || die "--backup-time must be HH:MM."
[[ $registry_time =~ ^[0-2][0-9]:[0-5][0-9]$ ]] || die "--registry-time must be HH:MM."
[ -z "$registry_config" ] || [ -f "$registry_config" ] || die "no file $registry_config."
if [ -n "$cert$key$ca" ] && { [ -z "$cert" ] || [ -z "$key" ] || [ -z "$ca" ]; }; then
    die "--cert, --key and --ca go together."
fi
for path in "$backup_dest" "$copy_to" "$etc_dir"; do
    [[ $path != *[[:space:]]* ]] || die "paths with spaces are not supported: '$path'."
done
((${#names[@]})) || names=("$(hostname -f 2>/dev/null || hostname)")
((${#allow[@]})) || allow=(samenet)
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# ------------------------------------------------------------------ packages
wanted=(postgresql openssl)
[ -z "$phms_venv" ] && wanted+=(python3-venv)
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ -z "$pg_version" ]; then
    pg_version=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -n | tail -1)
fi
bin=/usr/lib/postgresql/$pg_version/bin
[ -x "$bin/postgres" ] || die "PostgreSQL $pg_version is not installed ($bin/postgres missing)."
[ -f "/usr/lib/postgresql/$pg_version/lib/passwordcheck.so" ] ||
    die "PostgreSQL $pg_version has no passwordcheck module, which PHMS needs."
say "PostgreSQL $pg_version, cluster $cluster, port $port"

systemd_running() { [ -d /run/systemd/system ]; }
service() { # start|restart|reload the cluster, with or without systemd
    if systemd_running; then
        systemctl enable --quiet "postgresql@$pg_version-$cluster"
        systemctl "$1" "postgresql@$pg_version-$cluster"
    else
        pg_ctlcluster "$pg_version" "$cluster" "$1"
    fi
}
running() { pg_ctlcluster "$pg_version" "$cluster" status >/dev/null 2>&1; }

# ------------------------------------------------------------------ cluster
conf=/etc/postgresql/$pg_version/$cluster
restart=0 reload=0
if pg_lsclusters -h | awk -v v="$pg_version" -v c="$cluster" '$1==v && $2==c {f=1} END {exit !f}'; then
    current=$(pg_conftool -s "$pg_version" "$cluster" show port)
    if [ "$current" != "$port" ]; then
        pg_conftool "$pg_version" "$cluster" set port "$port"
        restart=1
    fi
else
    say "creating cluster $pg_version/$cluster"
    pg_createcluster "$pg_version" "$cluster" --port "$port" --encoding UTF8 --locale C.UTF-8 \
        -- --data-checksums >/dev/null
fi

# install_file SRC DEST MODE OWNER: copy when different; return 0 if it changed.
install_file() {
    if [ -f "$2" ] && cmp -s "$1" "$2"; then rm -f "$1"; return 1; fi
    install -m "$3" -o "$4" -g "$4" "$1" "$2"
    rm -f "$1"
    return 0
}

# ------------------------------------------------------------------ TLS
umask 077
tls=$etc_dir/tls
install -d -m 755 "$etc_dir"
install -d -m 700 "$tls"
install -d -m 755 "$etc_dir/workstation"
server_crt=$conf/phms-server.crt server_key=$conf/phms-server.key
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

san=""
for n in "${names[@]}"; do
    if [[ $n =~ ^[0-9.]+$ || $n == *:* ]]; then san+="IP:$n,"; else san+="DNS:$n,"; fi
done
san=${san%,}

if [ -n "$cert" ]; then
    openssl verify -CAfile "$ca" "$cert" >/dev/null || die "$cert is not signed by $ca."
    cp "$cert" "$work/crt" && cp "$key" "$work/key" && cp "$ca" "$work/ca"
    install_file "$work/crt" "$server_crt" 644 postgres && reload=1
    install_file "$work/key" "$server_key" 600 postgres && reload=1
    install_file "$work/ca" "$tls/ca.crt" 644 root || true
else
    if [ ! -s "$tls/ca.key" ]; then
        say "creating the site CA in $tls"
        cat >"$work/ca.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
CN = PHMS site CA ($(hostname))
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
        openssl req -x509 -new -config "$work/ca.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -keyout "$tls/ca.key" -out "$tls/ca.crt" -days 3650 -sha256 2>/dev/null
        chmod 600 "$tls/ca.key"
        chmod 644 "$tls/ca.crt"
    fi
    renew=0
    if [ ! -s "$server_crt" ] || [ ! -s "$server_key" ]; then renew=1
    elif [ "$(cat "$conf/phms-server.names" 2>/dev/null)" != "$san" ]; then renew=1
    elif ! openssl x509 -checkend $((30 * 86400)) -noout -in "$server_crt" >/dev/null; then renew=1
    elif ! openssl verify -CAfile "$tls/ca.crt" "$server_crt" >/dev/null 2>&1; then renew=1
    fi
    if ((renew)); then
        say "issuing the server certificate for $san"
        cat >"$work/server.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
[dn]
CN = ${names[0]}
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
EOF
        openssl req -new -config "$work/server.cnf" -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
            -nodes -keyout "$work/key" -out "$work/csr" 2>/dev/null
        openssl x509 -req -in "$work/csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
            -set_serial "0x$(openssl rand -hex 16)" -days 825 -sha256 \
            -extfile "$work/server.cnf" -extensions v3_server -out "$work/crt" 2>/dev/null
        install -m 644 -o postgres -g postgres "$work/crt" "$server_crt"
        install -m 600 -o postgres -g postgres "$work/key" "$server_key"
        echo "$san" >"$conf/phms-server.names"
        reload=1
    fi
fi
cp "$tls/ca.crt" "$work/root.crt"
install_file "$work/root.crt" "$etc_dir/workstation/root.crt" 644 root || true

# ------------------------------------------------------------------ configuration
grep -Eq "^\s*include_dir\s*=?\s*'conf.d'" "$conf/postgresql.conf" ||
    echo "include_dir = 'conf.d'" >>"$conf/postgresql.conf"
install -d -m 755 -o postgres -g postgres "$conf/conf.d"
cat >"$work/phms.conf" <<EOF
# Managed by PHMS installer/server/setup-server.sh: re-running it rewrites this file.
listen_addresses = '$listen'
ssl = on
ssl_cert_file = '$server_crt'
ssl_key_file = '$server_key'
ssl_min_protocol_version = 'TLSv1.2'
password_encryption = 'scram-sha-256'
max_connections = 200
log_connections = on
log_disconnections = on
log_line_prefix = '%m [%p] %q%u@%d from %h '
# Ready for a streaming-replication hot standby (docs/admin-guide.md, "Failover").
wal_level = replica
max_wal_senders = 5
# Plain-text passwords (ALTER ROLE ... PASSWORD 'x') are checked: letters and non-letters,
# not the login's name, long enough (docs/admin-guide.md, "Passwords"). To preload other
# libraries too, list them with passwordcheck in conf.d/site.conf (read after this file).
shared_preload_libraries = 'passwordcheck'
# Nothing waits forever (docs/admin-guide.md, "Timeouts"): a transaction left open
# is ended, a workstation that vanished is noticed and its locks freed, and a lock
# wait longer than a second is logged with who holds the lock.
idle_in_transaction_session_timeout = '5min'
tcp_keepalives_idle = 60
tcp_keepalives_interval = 10
tcp_keepalives_count = 6
tcp_user_timeout = '60s'
client_connection_check_interval = '10s'
log_lock_waits = on
EOF
# PostgreSQL 18 lets us set the length; before, passwordcheck's built-in minimum is 8.
if ((pg_version >= 18)); then
    echo "passwordcheck.min_password_length = 12" >>"$work/phms.conf"
fi
if [ "$(cat "$conf/conf.d/phms.conf" 2>/dev/null)" != "$(cat "$work/phms.conf")" ]; then
    install -m 644 -o postgres -g postgres "$work/phms.conf" "$conf/conf.d/phms.conf"
    restart=1
fi
rm -f "$work/phms.conf"

groups="+phms_clerk,+phms_clinician,+phms_admin,+phms_auditor"
{
    echo "# Managed by PHMS installer/server/setup-server.sh: re-running it rewrites this file."
    echo "# TYPE   DATABASE   USER   ADDRESS   METHOD"
    echo "# root and postgres on this machine are the superuser, through the socket only:"
    echo "local    all        postgres             peer map=phms_superuser"
    echo "# Never over the network, not even with TLS: the superuser and the owner."
    echo "host     all          postgres,phms_owner  all  reject"
    echo "host     replication  postgres,phms_owner  all  reject"
    echo "# Never without TLS:"
    echo "hostnossl  all          all  all  reject"
    echo "hostnossl  replication  all  all  reject"
    echo "# Staff, from the clinic's network, with TLS and a password only:"
    for net in "${allow[@]}"; do
        echo "hostssl  $database  $groups  $net  scram-sha-256"
    done
    echo "# ...and to the staging copy (phms-admin staging create; same logins, same rights):"
    for net in "${allow[@]}"; do
        echo "hostssl  ${database}_staging  $groups  $net  scram-sha-256"
    done
    for net in "${replicas[@]}"; do
        echo "hostssl  replication  phms_replicator  $net  scram-sha-256"
    done
    echo "# Everything else is refused:"
    echo "local    all        all                  reject"
    echo "host     all        all        all       reject"
} >"$work/hba"
install_file "$work/hba" "$conf/pg_hba.conf" 640 postgres && reload=1
cat >"$work/ident" <<'EOF'
# Managed by PHMS installer/server/setup-server.sh: re-running it rewrites this file.
# MAPNAME         SYSTEM-USERNAME   PG-USERNAME
phms_superuser    postgres          postgres
phms_superuser    root              postgres
EOF
install_file "$work/ident" "$conf/pg_ident.conf" 640 postgres && reload=1

if ! running; then
    say "starting the cluster"
    service start
elif ((restart)); then
    say "restarting the cluster (configuration changed)"
    service restart
elif ((reload)); then
    service reload
fi
for _ in $(seq 60); do
    "$bin/pg_isready" -q -h /var/run/postgresql -p "$port" && break
    sleep 1
done
"$bin/pg_isready" -q -h /var/run/postgresql -p "$port" || die "the server did not come up."

psql_su() { "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h /var/run/postgresql -p "$port" -U postgres "$@"; }
if [ -z "$(psql_su -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
    say "creating database $database"
    psql_su -d postgres -c "CREATE DATABASE $database ENCODING 'UTF8' TEMPLATE template0"
fi

if ((${#replicas[@]})) &&
    [ -z "$(psql_su -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'phms_replicator'")" ]; then
    # Hex: letters and digits both, as passwordcheck wants.
    replication_password=${PHMS_REPLICATION_PASSWORD:-$(openssl rand -hex 24)}
    echo "CREATE ROLE phms_replicator REPLICATION LOGIN PASSWORD :'pw';" |
        psql_su -d postgres -v pw="$replication_password"
    say "created the replication login phms_replicator"
    [ -n "${PHMS_REPLICATION_PASSWORD:-}" ] ||
        say "its password (shown once, needed on the standby): $replication_password"
fi

# ------------------------------------------------------------------ PHMS and migrations
if [ -n "$phms_venv" ]; then
    venv=$phms_venv
else
    source_dir=${source_dir:-$(cd "$here/../.." && pwd)}
    [ -f "$source_dir/pyproject.toml" ] || die "no PHMS source in $source_dir (use --source)."
    if [ ! -x "$venv/bin/python" ]; then
        say "creating $venv"
        python3 -m venv "$venv"
    fi
    say "installing PHMS from $source_dir into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$source_dir"
fi
admin_cmd=$venv/bin/phms-admin
[ -x "$admin_cmd" ] || die "$admin_cmd not found (is PHMS installed in $venv?)."
url="postgresql://postgres@/$database?host=/var/run/postgresql&port=$port"
install -d -m 700 "$backup_dest"
say "bringing the schema up to date"
"$admin_cmd" db upgrade --url "$url" --backup-dest "$backup_dest" --pg-bin "$bin"

if [ -n "$admin" ]; then
    if "$admin_cmd" user list --url "$url" | awk 'NR > 1 {print $1}' | grep -qx "$admin"; then
        say "admin login $admin exists (unchanged)"
    elif [ -n "${PHMS_ADMIN_PASSWORD:-}" ]; then
        printf '%s\n' "$PHMS_ADMIN_PASSWORD" |
            "$admin_cmd" user add "$admin" --role admin --password-stdin --url "$url"
    else
        "$admin_cmd" user add "$admin" --role admin --url "$url" </dev/null
    fi
fi

# ------------------------------------------------------------------ workstations
{
    echo "# PHMS workstation settings made by setup-server.sh on $(hostname)."
    echo "# Copy this file and root.crt to every workstation: /etc/phms/ on Linux,"
    echo "# C:\\ProgramData\\phms\\ on Windows, /Library/Application Support/phms/ on macOS."
    echo "server = \"${names[0]}\""
    echo "port = $port"
    echo "database = \"$database\""
    echo "sslmode = \"verify-full\""
    echo "sslrootcert = \"root.crt\""
} >"$work/client.toml"
install_file "$work/client.toml" "$etc_dir/workstation/client.toml" 644 root || true

# ------------------------------------------------------------------ nightly backup
key_opt=()
if ((encrypt)); then
    [ -s "$etc_dir/backup.key" ] || "$admin_cmd" backup keygen "$etc_dir/backup.key"
    key_opt=(--encrypt-key-file "$etc_dir/backup.key")
fi
copy_opt=()
[ -n "$copy_to" ] && copy_opt=(--copy-to "$copy_to")
backup_cmd="$admin_cmd backup run --dest $backup_dest --keep-days $keep_days --pg-bin $bin"
drill_cmd="$admin_cmd backup drill --dest $backup_dest --pg-bin $bin"
for opt in "${copy_opt[@]}" "${key_opt[@]}"; do backup_cmd+=" $opt"; done
for opt in "${key_opt[@]}"; do drill_cmd+=" $opt"; done
install -d -m 755 "$systemd_dir"
unit_common="Type=oneshot
User=root
UMask=0077
Environment=\"PHMS_DATABASE_URL=$url\"
Nice=10
IOSchedulingClass=best-effort
IOSchedulingPriority=7
PrivateTmp=yes
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=read-only"
cat >"$work/phms-backup.service" <<EOF
# Managed by PHMS installer/server/setup-server.sh
[Unit]
Description=PHMS database backup (pg_dump, roles, manifest; rotated, verified copy)
After=postgresql@$pg_version-$cluster.service
Wants=postgresql@$pg_version-$cluster.service

[Service]
$unit_common
ExecStart=$backup_cmd
EOF
cat >"$work/phms-backup.timer" <<EOF
# Managed by PHMS installer/server/setup-server.sh
[Unit]
Description=Nightly PHMS database backup

[Timer]
OnCalendar=*-*-* $backup_time:00
Persistent=true
RandomizedDelaySec=5min

[Install]
WantedBy=timers.target
EOF
cat >"$work/phms-backup-drill.service" <<EOF
# Managed by PHMS installer/server/setup-server.sh
[Unit]
Description=PHMS restore drill: restore the newest backup into a scratch database and compare
After=postgresql@$pg_version-$cluster.service phms-backup.service

[Service]
$unit_common
ExecStart=$drill_cmd
EOF
cat >"$work/phms-backup-drill.timer" <<EOF
# Managed by PHMS installer/server/setup-server.sh
[Unit]
Description=Weekly PHMS restore drill

[Timer]
OnCalendar=Sun *-*-* 05:00:00
Persistent=true

[Install]
WantedBy=timers.target
EOF
units_changed=0
for unit in phms-backup.service phms-backup.timer phms-backup-drill.service phms-backup-drill.timer; do
    install_file "$work/$unit" "$systemd_dir/$unit" 644 root && units_changed=1
done
if systemd_running && [ "$systemd_dir" = /etc/systemd/system ]; then
    ((units_changed)) && systemctl daemon-reload
    systemctl enable --now --quiet phms-backup.timer phms-backup-drill.timer
    say "nightly backup at $backup_time and weekly drill enabled (systemctl list-timers 'phms-*')"
else
    echo "setup-server: WARNING: the backup timers are installed in $systemd_dir but NOT" >&2
    echo "  enabled, because systemd is not running here (or that is not its folder)." >&2
    echo "  Nothing will take backups until you enable them (systemctl enable --now" >&2
    echo "  phms-backup.timer phms-backup-drill.timer) or schedule this nightly:" >&2
    echo "  PHMS_DATABASE_URL='$url' $backup_cmd" >&2
fi

# ------------------------------------------------------------------ daily registry upload
if [ -n "$registry_config" ]; then
    bash "$here/registry-upload-units.sh" --admin-cmd "$admin_cmd" --config "$registry_config" \
        --url "$url" --time "$registry_time" --after "postgresql@$pg_version-$cluster.service" \
        --systemd-dir "$systemd_dir"
fi

fingerprint=$(openssl x509 -noout -fingerprint -sha256 -in "$tls/ca.crt" | cut -d= -f2)
say "done. Server $san, port $port, database $database."
say "workstations: copy $etc_dir/workstation/client.toml and root.crt to each (see the admin guide)."
say "site CA fingerprint (SHA-256): $fingerprint"
