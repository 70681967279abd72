#!/usr/bin/env bash
# From a clean clone to a running situd: installs what is missing, builds,
# generates the demo data if it is not there, loads it into $SITU_DB
# (default var/situ.sqlite) and starts situd on $SITU_LISTEN (default
# 127.0.0.1:8080) in the foreground; as root, serving as $SITU_USER (nobody).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
DB=${SITU_DB:-var/situ.sqlite}
LISTEN=${SITU_LISTEN:-127.0.0.1:8080}
if [ ! -f geodata/demo/manifest.ini ]; then
    build/situ demo --out geodata/demo
fi
if [ ! -f "$DB" ]; then
    mkdir -p "$(dirname "$DB")"
    build/situ load --db "$DB" --all geodata/demo
fi
build/situ check --db "$DB"
if [ -x build/situd ]; then
    echo "situd: http://$LISTEN/"
    # the base map's named places, beside the store so that situd's user may read them
    PLACES=()
    if [ -f geodata/demo/places.geojson ]; then
        cp geodata/demo/places.geojson "$(dirname "$DB")/places.geojson"
        PLACES=(--places "$(dirname "$DB")/places.geojson")
    fi
    . scripts/service_user.sh
    situd_user_args "$(dirname "$DB")"
    exec build/situd --db "$DB" --listen "$LISTEN" "${PLACES[@]}" "${SITUD_USER_ARGS[@]}"
fi
