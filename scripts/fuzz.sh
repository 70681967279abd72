#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang in build-fuzz/
# and runs each for SECONDS on a scratch copy of its seed corpus
# (tests/fuzz/corpus/<name>/, never written to), with its dictionary
# tests/fuzz/fuzz_<name>.dict when there is one. Prints one line per target:
# executions, executions per second, coverage at the start and the end, new
# corpus units, findings (crash-, leak-, timeout-, oom- files). Exits 1 on
# any finding or a target that failed to run.
#
#   scripts/fuzz.sh [-j N] SECONDS [TARGET...]     e.g. scripts/fuzz.sh 600 fuzz_http
#
# -j N (or FUZZ_JOBS=N) runs N targets at once; the default is one after the
# other. Logs, scratch corpora and findings go to FUZZ_OUT (default: a new
# folder under $TMPDIR or /tmp, named at the start). Reproduce a finding with
# build-fuzz/<target> <file>.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=${FUZZ_JOBS:-1}
if [ "${1:-}" = -j ]; then
    jobs=$2
    shift 2
fi
if ! [[ "${1:-}" =~ ^[0-9]+$ ]] || ! [[ "$jobs" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [-j N] SECONDS [TARGET...]" >&2
    exit 2
fi
seconds=$1
shift
if [ $# -gt 0 ]; then
    targets=("$@")
else
    targets=()
    for src in tests/fuzz/fuzz_*.c; do
        targets+=("$(basename "$src" .c)")
    done
fi
out=${FUZZ_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/situ-fuzz-XXXXXX")}
mkdir -p "$out"
echo "== fuzzing ${targets[*]} for ${seconds} s each, $jobs at a time; logs and findings in $out"

start=$SECONDS
scripts/setup.sh
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DSITU_FUZZ=ON -DSITU_WEB=OFF -DSITU_TESTS=OFF -DSITU_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}" >"$out/build.log" ||
    { tail -30 "$out/build.log" >&2; exit 1; }
echo "== built in $((SECONDS - start)) s"

# UBSan reports are findings too: stop at the first, so libFuzzer keeps the input.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1"

# Runs one target in $out/<target>/; its exit status is libFuzzer's.
run_target() {
    local t=$1 dir=$out/$1 name=${1#fuzz_}
    mkdir -p "$dir/corpus"
    rm -f "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-* # a reused FUZZ_OUT
    if [ -d "tests/fuzz/corpus/$name" ]; then
        cp -r "tests/fuzz/corpus/$name/." "$dir/corpus/"
    fi
    local dict=()
    [ -f "tests/fuzz/$t.dict" ] && dict=("-dict=tests/fuzz/$t.dict")
    "build-fuzz/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=90 \
        -artifact_prefix="$dir/" "${dict[@]}" "$dir/corpus" >"$dir/log" 2>&1
}

# The last value of libFuzzer's "key: N" in a log, or "-".
stat_of() {
    local v
    v=$(grep -aoE "$2:? +[0-9]+" "$1" | tail -1 | grep -oE '[0-9]+$' || true)
    echo "${v:--}"
}

# One summary line for a target; returns 1 on a finding or a failed run.
report() {
    local t=$1 rc=$2 dir=$out/$1 log=$out/$1/log
    local found
    found=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
        -o -name 'oom-*' \) | wc -l)
    local cov0
    cov0=$(grep -aoE 'INITED cov: [0-9]+' "$log" | grep -oE '[0-9]+$' || true)
    printf '%-14s %10s execs %7s exec/s  cov %5s -> %-5s %5s new units  %s findings\n' "$t" \
        "$(stat_of "$log" stat::number_of_executed_units)" \
        "$(stat_of "$log" stat::average_exec_per_sec)" "${cov0:--}" "$(stat_of "$log" cov)" \
        "$(stat_of "$log" stat::new_units_added)" "$found"
    if [ "$found" -gt 0 ]; then
        find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
            -o -name 'oom-*' \) -printf '    %p\n'
        grep -aE -m3 'ERROR:|SUMMARY:|^fuzz_http: ' "$log" | sed 's/^/    /' || true
        echo "    reproduce: build-fuzz/$t FILE; the whole output is in $log"
        return 1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "    failed (exit $rc); see $log"
        tail -5 "$log" | sed 's/^/    /'
        return 1
    fi
}

failed=0
running=()
for t in "${targets[@]}"; do
    run_target "$t" &
    running+=("$t:$!")
    if [ ${#running[@]} -ge "$jobs" ]; then
        entry=${running[0]}
        running=("${running[@]:1}")
        rc=0
        wait "${entry#*:}" || rc=$?
        report "${entry%%:*}" "$rc" || failed=1
    fi
done
for entry in "${running[@]+"${running[@]}"}"; do
    rc=0
    wait "${entry#*:}" || rc=$?
    report "${entry%%:*}" "$rc" || failed=1
done
echo "== fuzzing done in $((SECONDS - start)) s (build included); logs in $out"
exit $failed
