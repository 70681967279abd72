#!/usr/bin/env bash
# The in-process benchmarks for the peer harness (PROJECT_INPROC_CMD): cold,
# missed and cached tiles over $TILES_TXT, and k=5 nearest over $KNN_CSV, on
# the SpatiaLite file $SITU_DB (or $SITUD_DB). Prints `name per_s=...` lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
DB=${SITU_DB:-${SITUD_DB:?set SITU_DB}}
build/tiles_inproc --db "$DB" --tiles "$TILES_TXT"
build/nearest_inproc "$DB" "$KNN_CSV"
