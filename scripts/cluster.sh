#!/usr/bin/env bash
# cluster.sh: a local PostgreSQL 15 + PostGIS cluster for demos and tests: one
# etcd (Debian's etcd-server) and three PostgreSQL nodes under Patroni (Debian's
# patroni), synchronous mode, on 127.0.0.1 only. Everything lives in
# SITU_CLUSTER_DIR (default /tmp/situ-cluster) and runs as an unprivileged user
# (`postgres` when started as root, else the caller).
#
#   start            starts whatever is not running (etcd, node1..3), waits
#                    until healthy, prints the URL; a killed node rejoins
#   stop             ends every process and removes SITU_CLUSTER_DIR; idempotent
#   status           patronictl list, and etcd's health
#   url              the multi-host libpq URL (the password is in DIR/pgpass:
#                    PGPASSFILE=$SITU_CLUSTER_DIR/pgpass)
#   primary          the primary's node name and host:port
#   wait-healthy [S] waits (default 90 s) for a primary, a synchronous standby
#                    and a streaming replica, all on one timeline
#   kill-primary     kill -9 of the primary's Patroni and PostgreSQL (all its
#                    processes): a machine lost; `start` brings it back
#   stop-primary S   SIGSTOP of the same processes for S seconds, then SIGCONT:
#                    a machine frozen (runs in the foreground)
#   load DIR         `situ load --all DIR` into the cluster (e.g. a `situ demo`)
#   situd            both situd's pid, port and /healthz
#   situd-kill N     kill -9 of situd N (1 or 2)
#   situd-start N    starts situd N (both: `start`) and waits for its /healthz
#
# `start` also runs `situ init` (creates or migrates the store) and two situd,
# each with --db the multi-host URL (target_session_attrs=read-write), so that
# either follows the primary through a failover; their logs are
# DIR/situd1.log and DIR/situd2.log. Binaries from SITU_BIN and SITUD_BIN
# (default build/situ, build/situd of this checkout).
#
# Ports from SITU_CLUSTER_PORT (default 25432): PostgreSQL on P..P+2, situd on
# P+3 and P+4, Patroni's REST API on P+2576.. (28008..28010), etcd on P-1642
# (23790, peers 23791).
# The role `situ` owns database `situ` (PostGIS created at bootstrap); its
# password is read from SITU_CLUSTER_PASSWORD_FILE (default: a random one made
# in DIR/secrets/situ.password) and never printed. See README, "Cluster".
set -euo pipefail

DIR=${SITU_CLUSTER_DIR:-/tmp/situ-cluster}
PORT=${SITU_CLUSTER_PORT:-25432}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PY=/usr/bin/python3 # Debian's: Patroni's own, and JSON parsing below
NODES=(node1 node2 node3)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SITU_BIN=${SITU_BIN:-$ROOT/build/situ}
SITUD_BIN=${SITUD_BIN:-$ROOT/build/situd}
ETCD_PORT=$((PORT - 1642))
ETCD_PEER_PORT=$((ETCD_PORT + 1))
SCOPE=situ

# Failover timing (Patroni's DCS settings; README "Cluster"): the leader key
# lives TTL s and is renewed every LOOP_WAIT s, so a lost primary is replaced
# after TTL - (0..LOOP_WAIT) s plus a replica's next loop and the promotion.
# Patroni wants LOOP_WAIT + 2 * RETRY_TIMEOUT <= TTL, so that a primary whose
# DCS calls fail demotes itself before its key can expire.
TTL=10
LOOP_WAIT=2
RETRY_TIMEOUT=4

die() {
    echo "cluster: $*" >&2
    exit 1
}

if [ "$(id -u)" = 0 ]; then
    RUN_USER=postgres
else
    RUN_USER=$(id -un)
fi
RUN_HOME=$(getent passwd "$RUN_USER" | cut -d: -f6)

node_index() { # node2 -> 1
    echo $((${1#node} - 1))
}
pg_port() { echo $((PORT + $(node_index "$1"))); }
rest_port() { echo $((PORT + 2576 + $(node_index "$1"))); }

cluster_url() {
    local hosts="" n
    for n in "${NODES[@]}"; do
        hosts+="${hosts:+,}127.0.0.1:$(pg_port "$n")"
    done
    echo "postgresql://situ@$hosts/situ?target_session_attrs=read-write"
}

# as_user CMD...: runs CMD as RUN_USER; setpriv execs (no child in between),
# so that `as_user CMD &` gives CMD's pid.
AS_USER=()
if [ "$(id -u)" = 0 ]; then
    AS_USER=(setpriv --reuid="$RUN_USER" --regid="$RUN_USER" --init-groups
        env HOME="$RUN_HOME" USER="$RUN_USER" LOGNAME="$RUN_USER")
fi
as_user() { "${AS_USER[@]}" "$@"; }

# alive PIDFILE PATTERN: true if the pid on PIDFILE's first line runs and its command line
# contains PATTERN (a pid reused by another program is not ours).
alive() {
    local pid
    pid=$(head -n1 "$1" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# launch PIDFILE LOG CMD...: CMD in its own session as RUN_USER, detached.
launch() {
    local pidfile=$1 log=$2
    shift 2
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$log" 2>&1 &
    local i
    for i in $(seq 50); do # the pid file is written at once
        [ -s "$pidfile" ] && return 0
        sleep 0.02
    done
    die "could not start $*"
}

secret() { # secret NAME: DIR/secrets/NAME, made random on first use
    local f="$DIR/secrets/$1"
    if [ ! -s "$f" ]; then
        (umask 077 && od -An -N18 -tx1 /dev/urandom | tr -d ' \n' >"$f")
    fi
    cat "$f"
}

password_file() {
    if [ -n "${SITU_CLUSTER_PASSWORD_FILE:-}" ]; then
        [ -s "$SITU_CLUSTER_PASSWORD_FILE" ] || die "SITU_CLUSTER_PASSWORD_FILE is empty or missing"
        echo "$SITU_CLUSTER_PASSWORD_FILE"
    else
        secret situ.password >/dev/null
        echo "$DIR/secrets/situ.password"
    fi
}

prepare_dir() {
    mkdir -p "$DIR/secrets"
    chmod 700 "$DIR" "$DIR/secrets"
    local pwfile
    pwfile=$(password_file)
    # the clients' password file (libpq's format; PGPASSFILE)
    (umask 077 && printf '*:*:*:situ:%s\n' "$(head -n1 "$pwfile" | sed 's/[\\:]/\\&/g')" >"$DIR/pgpass")
    # bootstrap: role situ (password from the file, never on a command line or
    # in the server log), database situ with PostGIS. Patroni passes the
    # superuser's connection string as $1.
    cat >"$DIR/post_bootstrap.sh" <<EOF
#!/bin/sh
set -e
exec "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "\$1" <<'SQL'
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
\\set pw \`head -n1 '$pwfile'\`
CREATE ROLE situ LOGIN PASSWORD :'pw';
\\unset pw
CREATE DATABASE situ OWNER situ;
\\c situ
CREATE EXTENSION postgis;
SQL
EOF
    chmod 700 "$DIR/post_bootstrap.sh"
    [ "$(id -u)" != 0 ] || chown -R "$RUN_USER": "$DIR"
    # the password file must be readable by the cluster's user for bootstrap
    if [ "$(id -u)" = 0 ] && [ "$pwfile" != "$DIR/secrets/situ.password" ]; then
        as_user test -r "$pwfile" || die "$pwfile is not readable by $RUN_USER"
    fi
}

# write_patroni_yml NODE: DIR/NODE/patroni.yml (0600: it holds passwords).
write_patroni_yml() {
    local n=$1 d="$DIR/$1"
    mkdir -p "$d"
    chmod 700 "$d"
    (
        umask 077
        cat >"$d/patroni.yml" <<EOF
scope: $SCOPE
namespace: /situ/
name: $n
log:
  level: INFO
restapi:
  listen: 127.0.0.1:$(rest_port "$n")
  connect_address: 127.0.0.1:$(rest_port "$n")
  authentication: {username: patroni, password: '$(secret patroni.password)'}
# etcd's v2 API, not etcd3: Debian 12's Patroni 3.0.2 renews the leader key
# through etcd3 with an unconditional put, so a primary that thaws after its
# key expired takes the key back from the replica just promoted in its place,
# which demotes itself and is rewound: commits it acknowledged are lost (seen
# here with stop-primary; fixed upstream in Patroni 3.0.3, PR 2689). Through
# v2 the renewal is a compare-and-swap on the key's value.
etcd:
  hosts: 127.0.0.1:$ETCD_PORT
bootstrap:
  dcs:
    ttl: $TTL
    loop_wait: $LOOP_WAIT
    retry_timeout: $RETRY_TIMEOUT
    maximum_lag_on_failover: 1048576
    # a commit is acknowledged once a synchronous standby has applied it, and
    # only that standby may be promoted: no acknowledged write is lost
    synchronous_mode: true
    # with no standby left, writes wait instead of going on unprotected
    synchronous_mode_strict: true
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters:
        synchronous_commit: remote_apply
        wal_level: replica
        hot_standby: 'on'
        wal_log_hints: 'on'
        max_wal_senders: 10
        max_replication_slots: 10
        # replicas keep their WAL through slots (use_slots); the rest is
        # kept small, so that a stop removes little
        min_wal_size: 32MB
        # a replica retries its primary every second, not every 5 s: after a
        # failover the new primary takes writes once a standby has come
        wal_retrieve_retry_interval: 1s
  # no-sync: initdb does not fsync the new cluster's files (seconds on a busy
  # disk); the server runs with fsync on, so only a machine crash during the
  # bootstrap itself could hurt, and this cluster is for demos and tests
  initdb:
    - no-sync
    - encoding: UTF8
    - locale: C.UTF-8
  pg_hba:
    - local all all trust
    - host replication replicator 127.0.0.1/32 scram-sha-256
    - host all all 127.0.0.1/32 scram-sha-256
  post_bootstrap: $DIR/post_bootstrap.sh
postgresql:
  listen: 127.0.0.1:$(pg_port "$n")
  connect_address: 127.0.0.1:$(pg_port "$n")
  use_unix_socket: true
  data_dir: $d/data
  bin_dir: $PG_BIN
  pgpass: $d/pgpass.patroni
  # a new replica's base backup starts at once, not at the next checkpoint
  basebackup:
    - checkpoint: fast
  authentication:
    superuser: {username: postgres, password: '$(secret superuser.password)'}
    replication: {username: replicator, password: '$(secret replication.password)'}
    rewind: {username: postgres, password: '$(secret superuser.password)'}
  parameters:
    unix_socket_directories: '$d'
    log_destination: stderr
    logging_collector: 'off'
watchdog:
  mode: 'off'
EOF
    )
    [ "$(id -u)" != 0 ] || chown -R "$RUN_USER": "$d" "$DIR/secrets"
}

start_etcd() {
    local e="$DIR/etcd"
    alive "$e.pid" "$e/data" && return 0
    mkdir -p "$e"
    [ "$(id -u)" != 0 ] || chown "$RUN_USER": "$e"
    launch "$e.pid" "$e.log" "${AS_USER[@]}" etcd --name situ --data-dir "$e/data" \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
        --initial-cluster "situ=http://127.0.0.1:$ETCD_PEER_PORT" \
        --enable-v2=true --listen-metrics-urls "" --log-level warn --logger zap
    local i
    for i in $(seq 100); do
        curl -fsS "http://127.0.0.1:$ETCD_PORT/health" 2>/dev/null | grep -q '"health":"true"' && return 0
        alive "$e.pid" "$e/data" || die "etcd exited: $(tail -n 3 "$e.log")"
        sleep 0.1
    done
    die "etcd not healthy after 10 s: $(tail -n 3 "$e.log")"
}

start_node() {
    local n=$1
    alive "$DIR/$n/patroni.pid" "$DIR/$n/patroni.yml" && return 0
    write_patroni_yml "$n"
    launch "$DIR/$n/patroni.pid" "$DIR/$n/patroni.log" "${AS_USER[@]}" patroni "$DIR/$n/patroni.yml"
}

# rest NODE PATH: GET on NODE's Patroni REST API; prints the body, fails on non-2xx.
rest() {
    curl -fsS --max-time 2 "http://127.0.0.1:$(rest_port "$1")$2" 2>/dev/null
}

primary_node() {
    local n
    for n in "${NODES[@]}"; do
        if rest "$n" /primary >/dev/null; then
            echo "$n"
            return 0
        fi
    done
    return 1
}

# healthy: one leader, a sync standby and a replica, all running on the
# leader's timeline and the replicas streaming from it; and `situ` can write.
healthy() {
    local n json
    n=$(primary_node) || return 1
    json=$(rest "$n" /cluster) || return 1
    echo "$json" | "$PY" -c '
import json, sys
members = json.load(sys.stdin)["members"]
roles = sorted(m["role"] for m in members)
leader = [m for m in members if m["role"] == "leader"]
ok = (roles == ["leader", "replica", "sync_standby"]
      and all(m["state"] == "running" for m in members)
      and all(m.get("timeline") == leader[0].get("timeline") for m in members)
      and all(m.get("lag", 0) != "unknown" for m in members))
sys.exit(0 if ok else 1)' || return 1
    # replicas streaming from this primary (pg_stat_replication on it)
    local streaming
    streaming=$(as_user "$PG_BIN/psql" -X -At -h "$DIR/$n" -p "$(pg_port "$n")" -U postgres -d postgres \
        -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null) || return 1
    [ "$streaming" = 2 ] || return 1
    PGPASSFILE="$DIR/pgpass" PGCONNECT_TIMEOUT=2 "$PG_BIN/psql" -X -At "$(cluster_url)" \
        -c "SELECT 1" >/dev/null 2>&1
}

cmd_wait_healthy() {
    local limit=${1:-90} t0=$SECONDS
    until healthy; do
        [ $((SECONDS - t0)) -lt "$limit" ] || {
            cmd_status >&2 || true
            die "not healthy after $limit s"
        }
        sleep 0.5
    done
}

# ---- situd ----------------------------------------------------------------

situd_port() { echo $((PORT + 2 + $1)); } # situd 1 -> P+3

# situ_cmd ARGS...: situ on the cluster's URL as RUN_USER (the password
# through DIR/pgpass, never on a command line)
situ_cmd() {
    as_user env PGPASSFILE="$DIR/pgpass" "$SITU_BIN" "$@"
}

situd_healthz() {
    curl -sS --max-time 2 "http://127.0.0.1:$(situd_port "$1")/healthz" 2>/dev/null
}

# start_situd N: situd N on its port, unless it runs; waits for /healthz.
start_situd() {
    local i=$1 pidfile="$DIR/situd$1.pid"
    case "$i" in 1 | 2) ;; *) die "situd is 1 or 2" ;; esac
    [ -x "$SITUD_BIN" ] || die "no $SITUD_BIN (scripts/build.sh, or SITUD_BIN)"
    if ! alive "$pidfile" "--listen 127.0.0.1:$(situd_port "$i")"; then
        launch "$pidfile" "$DIR/situd$i.log" "${AS_USER[@]}" env PGPASSFILE="$DIR/pgpass" \
            "$SITUD_BIN" --db "$(cluster_url)" --listen "127.0.0.1:$(situd_port "$i")"
    fi
    local _
    for _ in $(seq 300); do
        situd_healthz "$i" >/dev/null && return 0
        alive "$pidfile" "--listen" || die "situd $i exited: $(tail -n 3 "$DIR/situd$i.log")"
        sleep 0.2
    done
    die "situd $i: no /healthz after 60 s: $(tail -n 3 "$DIR/situd$i.log")"
}

cmd_situd_kill() {
    local i=${1:?usage: cluster.sh situd-kill 1|2} pidfile="$DIR/situd$1.pid"
    alive "$pidfile" "--listen 127.0.0.1:$(situd_port "$i")" || die "situd $i is not running"
    kill -KILL "$(head -n1 "$pidfile")"
}

cmd_situd_status() {
    local i
    for i in 1 2; do
        if alive "$DIR/situd$i.pid" "--listen 127.0.0.1:$(situd_port "$i")"; then
            printf 'situd%s pid %s 127.0.0.1:%s %s\n' "$i" "$(head -n1 "$DIR/situd$i.pid")" \
                "$(situd_port "$i")" "$(situd_healthz "$i" | tr -d '\n' || echo 'no answer')"
        else
            printf 'situd%s down (127.0.0.1:%s)\n' "$i" "$(situd_port "$i")"
        fi
    done
}

stop_situd() {
    local i
    for i in 1 2; do
        if alive "$DIR/situd$i.pid" "--listen"; then
            kill -KILL "$(head -n1 "$DIR/situd$i.pid")" 2>/dev/null || true
        fi
    done
}

cmd_start() {
    command -v patroni >/dev/null || die "patroni is not installed (scripts/setup.sh)"
    command -v etcd >/dev/null || die "etcd is not installed (etcd-server; scripts/setup.sh)"
    [ -x "$PG_BIN/postgres" ] || die "no $PG_BIN/postgres (postgresql-15; scripts/setup.sh)"
    prepare_dir
    start_etcd
    local n
    for n in "${NODES[@]}"; do start_node "$n"; done
    cmd_wait_healthy 120
    [ -x "$SITU_BIN" ] || die "no $SITU_BIN (scripts/build.sh, or SITU_BIN)"
    situ_cmd init --db "$(cluster_url)" >>"$DIR/situ-init.log" 2>&1 ||
        die "situ init failed: $(tail -n 3 "$DIR/situ-init.log")"
    start_situd 1
    start_situd 2
    cluster_url
}

# node_pids NODE: Patroni's pid and its children's (pg_basebackup, pg_rewind),
# the postmaster's and its children's.
node_pids() {
    local n=$1 pm pat
    if alive "$DIR/$n/patroni.pid" "$DIR/$n/patroni.yml"; then
        pat=$(head -n1 "$DIR/$n/patroni.pid")
        echo "$pat"
        ps -o pid= --ppid "$pat" || true
    fi
    # a stale postmaster.pid may name a pid now used by another program
    alive "$DIR/$n/data/postmaster.pid" "$DIR/$n/data" || return 0
    pm=$(head -n1 "$DIR/$n/data/postmaster.pid")
    echo "$pm"
    ps -o pid= --ppid "$pm" || true
}

# signal_node NODE SIG: SIG to all of NODE's processes, Patroni first.
signal_node() {
    local pids
    pids=$(node_pids "$1")
    [ -z "$pids" ] || kill "-$2" $pids 2>/dev/null || true
}

cmd_kill_primary() {
    local n
    n=$(primary_node) || die "no primary"
    # freeze first, so that none of them acts on another's death
    signal_node "$n" STOP
    signal_node "$n" KILL
    echo "$n"
}

cmd_stop_primary() {
    local secs=${1:?usage: cluster.sh stop-primary SECONDS} n
    n=$(primary_node) || die "no primary"
    signal_node "$n" STOP
    echo "$n"
    sleep "$secs"
    signal_node "$n" CONT
}

# stop_postgres NODE: immediate shutdown of NODE's PostgreSQL, if it runs
# (the postmaster ends its children and frees its shared memory).
stop_postgres() {
    local d="$DIR/$1/data"
    alive "$d/postmaster.pid" "$d" || return 0
    as_user "$PG_BIN/pg_ctl" -D "$d" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
}

# The cluster is thrown away: no clean shutdown is needed, only no process
# and no shared memory left. Patroni goes first (kill -9, so that it restarts
# nothing), then PostgreSQL (immediate), then etcd.
cmd_stop() {
    local n i
    [ -d "$DIR" ] || return 0
    stop_situd
    for n in "${NODES[@]}"; do
        signal_node "$n" CONT # a node stopped by stop-primary
        if alive "$DIR/$n/patroni.pid" "$DIR/$n/patroni.yml"; then
            local pat
            pat=$(head -n1 "$DIR/$n/patroni.pid")
            kill -KILL "$pat" $(ps -o pid= --ppid "$pat") 2>/dev/null || true
        fi
    done
    for n in "${NODES[@]}"; do stop_postgres "$n" & done
    wait
    for n in "${NODES[@]}"; do signal_node "$n" KILL; done
    if alive "$DIR/etcd.pid" "$DIR/etcd/data"; then
        kill -TERM "$(head -n1 "$DIR/etcd.pid")"
        for i in $(seq 50); do
            alive "$DIR/etcd.pid" "$DIR/etcd/data" || break
            sleep 0.1
        done
        ! alive "$DIR/etcd.pid" "$DIR/etcd/data" || kill -KILL "$(head -n1 "$DIR/etcd.pid")"
    fi
    rm -rf "$DIR"
}

cmd_status() {
    [ -f "$DIR/node1/patroni.yml" ] || die "no cluster in $DIR"
    patronictl -c "$DIR/node1/patroni.yml" list 2>/dev/null ||
        echo "patronictl: no answer (is etcd running?)"
    printf 'etcd: '
    curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" || printf 'down'
    echo
    cmd_situd_status
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
url) cluster_url ;;
primary)
    n=$(primary_node) || die "no primary"
    echo "$n 127.0.0.1:$(pg_port "$n")"
    ;;
wait-healthy) cmd_wait_healthy "${2:-90}" ;;
kill-primary) cmd_kill_primary ;;
stop-primary) cmd_stop_primary "${2:-}" ;;
load) situ_cmd load --db "$(cluster_url)" --all "${2:?usage: cluster.sh load DIR}" ;;
situd) cmd_situd_status ;;
situd-kill) cmd_situd_kill "${2:-}" ;;
situd-start) start_situd "${2:?usage: cluster.sh situd-start 1|2}" ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
