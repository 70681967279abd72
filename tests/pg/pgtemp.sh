#!/usr/bin/env bash
# pgtemp.sh: a throwaway PostgreSQL 15 + PostGIS 3 server for tests; no system
# service, no fixed port, nothing outside its folder (and one cached template).
#
#   pgtemp.sh start [DIR]  a server in DIR (default: a new situ-pg.XXXXXX in
#                          /dev/shm if it has 2 GB free, else in /tmp)
#                          on a free 127.0.0.1 port; prints two lines: the libpq
#                          URL, then DIR. DIR/url holds the URL.
#   pgtemp.sh url DIR      prints the URL of the server in DIR
#   pgtemp.sh stop DIR     stops it (immediate) and removes DIR; idempotent
#
# The URL is postgresql://situ:PASSWORD@127.0.0.1:PORT/situ: the role `situ`
# (LOGIN, CREATEDB, not a superuser) owns database `situ`; its password is
# random per server (DIR/password) and is in the URL so that any process,
# whatever its user, can connect. PostGIS is in template1 as well as in `situ`,
# so a test may CREATE DATABASE one of its own (as `situ`) and get PostGIS in
# it. The superuser `postgres` is trusted only on the Unix socket in DIR
# (psql -h DIR -p PORT -U postgres). DIR/log is the server's log.
#
# Run as root (as CI is), the server runs as `postgres` through runuser, since
# PostgreSQL refuses to run as root; otherwise as the current user. DIR's
# parents must then be searchable by `postgres` (/tmp and /dev/shm are).
#
# initdb and CREATE EXTENSION postgis take some 5 s; they run once into a
# template (PGTEMP_CACHE, default situ-pgtemp-cache-UID beside the servers) per PostgreSQL
# and PostGIS build and version of this script, and every start copies it.
#
# Speed over durability, for a server whose data is thrown away: fsync,
# full_page_writes and synchronous_commit are off, so a crash of the machine
# (not of PostgreSQL) may corrupt it. Never use these settings for real data.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

# Servers and the template live in memory (/dev/shm) where it has room: a
# throwaway server needs no disk, and copying the template to disk costs
# seconds when the disk is busy. Else in /tmp. PGTEMP_ROOT overrides.
if [ -z "${PGTEMP_ROOT:-}" ]; then
    PGTEMP_ROOT=/tmp
    if [ -d /dev/shm ] && [ -w /dev/shm ] &&
        [ "$(df --output=avail -k /dev/shm 2>/dev/null | tail -n1)" -gt 2097152 ] 2>/dev/null; then
        PGTEMP_ROOT=/dev/shm
    fi
fi

die() {
    echo "pgtemp: $*" >&2
    exit 1
}

# as_owner CMD...: runs CMD as the server's user.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    # Debian's python, not a pyenv shim (0.5 s): this runs on every start
    /usr/bin/python3 -S -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server DATA DIR: pg_ctl start of DATA on a free port, with its socket,
# port file and log in DIR; a port taken between the probe and the bind (by
# another test) is retried on a new port.
start_server() {
    local data=$1 dir=$2 port attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        echo "$port" >"$dir/port"
        if as_owner "$PG_BIN/pg_ctl" -D "$data" -l "$dir/log" -w -t 60 \
            -o "-p $port -k $dir" start >/dev/null; then
            return 0
        fi
        grep -q "could not bind\|already in use" "$dir/log" 2>/dev/null ||
            die "PostgreSQL did not start, see $dir/log: $(tail -n 3 "$dir/log" 2>/dev/null)"
    done
    die "no free port after $attempt attempts"
}

# psql_admin DIR ARGS...: psql as the superuser over DIR's socket, SQL on stdin.
psql_admin() {
    local dir=$1
    shift
    as_owner "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$(cat "$dir/port")" \
        -U postgres "$@" >/dev/null
}

# make_folder DIR: creates DIR, private to the server's user.
make_folder() {
    mkdir -p "$1"
    chmod 700 "$1"
    [ "$(id -u)" != 0 ] || chown postgres: "$1"
}

# template: prints the folder of a stopped, initialised data directory (DIR/data)
# with PostGIS in template1 and in database `situ`, owned by role `situ` (no
# password yet). Built aside and renamed into place, so that concurrent first
# starts never see half a template.
template() {
    local key cache tmp
    key=$({
        "$PG_BIN/postgres" -V
        stat -c %Y "$("$PG_BIN/pg_config" --pkglibdir)/postgis-3.so"
        cat "${BASH_SOURCE[0]}"
    } | sha1sum | cut -c1-12)
    cache="${PGTEMP_CACHE:-$PGTEMP_ROOT/situ-pgtemp-cache-$(id -u)}"
    if [ -f "$cache/$key/ready" ]; then
        touch "$cache/$key" # in use: not stale
        echo "$cache/$key"
        return 0
    fi
    make_folder "$cache"
    # templates of other builds or versions of this script, unused for a day
    find "$cache" -mindepth 1 -maxdepth 1 -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
    tmp=$(mktemp -d "$cache/build.XXXXXX")
    make_folder "$tmp"
    # -N: initdb does not fsync either (a lost template is made again); WAL in
    # 1 MB segments, so that the copy of pg_wal made at every start is small
    as_owner "$PG_BIN/initdb" -D "$tmp/data" -N -U postgres -A trust -E UTF8 \
        --locale=C --wal-segsize=1 >"$tmp/initdb.log" 2>&1 || die "initdb failed: $(tail -n 3 "$tmp/initdb.log")"
    cat >>"$tmp/data/postgresql.conf" <<'CONF'
# pgtemp.sh: a throwaway test server; speed over durability (see pgtemp.sh)
listen_addresses = '127.0.0.1'
fsync = off
full_page_writes = off
synchronous_commit = off
min_wal_size = 2MB
max_connections = 100
shared_buffers = 32MB
log_min_messages = warning
CONF
    # trust on the socket for the superuser only; passwords over TCP
    cat >"$tmp/data/pg_hba.conf" <<'HBA'
local all postgres trust
host all all 127.0.0.1/32 scram-sha-256
HBA
    start_server "$tmp/data" "$tmp"
    psql_admin "$tmp" -d template1 <<'SQL'
CREATE EXTENSION postgis;
CREATE ROLE situ LOGIN CREATEDB;
CREATE DATABASE situ OWNER situ TEMPLATE template1 STRATEGY FILE_COPY;
SQL
    as_owner "$PG_BIN/pg_ctl" -D "$tmp/data" -m fast -w stop >/dev/null
    touch "$tmp/ready"
    # another start may have won the race: keep its template, drop ours
    mv -T "$tmp" "$cache/$key" 2>/dev/null || rm -rf "$tmp"
    echo "$cache/$key"
}

cmd_start() {
    local dir=${1:-} tpl password url
    # a start that fails half-way leaves no server and no folder behind
    trap '[ -z "${dir:-}" ] || cmd_stop "$dir"' EXIT
    [ -x "$PG_BIN/initdb" ] || die "no $PG_BIN/initdb: install postgresql-15 (scripts/setup.sh)"
    if [ -z "$dir" ]; then
        dir=$(mktemp -d "$PGTEMP_ROOT/situ-pg.XXXXXX")
    elif [ -e "$dir/data" ]; then
        local taken=$dir
        dir=""
        die "$taken/data exists: stop that server first"
    fi
    make_folder "$dir"
    dir=$(cd "$dir" && pwd)
    tpl=$(template)
    as_owner cp -a "$tpl/data" "$dir/data"
    start_server "$dir/data" "$dir"

    password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    (umask 077 && echo "$password" >"$dir/password")
    [ "$(id -u)" != 0 ] || chown postgres: "$dir/password"
    # the password reaches psql through a file: no command line shows it
    psql_admin "$dir" -d situ <<SQL
\\set pw \`cat '$dir/password'\`
ALTER ROLE situ PASSWORD :'pw';
SQL
    url="postgresql://situ:$password@127.0.0.1:$(cat "$dir/port")/situ"
    (umask 077 && echo "$url" >"$dir/url")
    trap - EXIT
    echo "$url"
    echo "$dir"
}

cmd_stop() {
    local dir=${1:?usage: pgtemp.sh stop DIR}
    [ -d "$dir" ] || return 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
start) cmd_start "${2:-}" ;;
url) cat "${2:?usage: pgtemp.sh url DIR}/url" ;;
stop) cmd_stop "${2:-}" ;;
*)
    echo "usage: pgtemp.sh start [DIR] | url DIR | stop DIR" >&2
    exit 2
    ;;
esac
