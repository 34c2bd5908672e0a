#!/usr/bin/env bash
# kvmfi: every test, as `make check` runs it (and .ci/run through it).
#
# Phases: host set-up (apt, rustup targets, test daemons' files), the
# README's first command (make demo from a fresh clone and an empty cache),
# a shellcheck pass over every script, the Rust unit and integration tests,
# the user-space injectors against real daemons, and the VM bench: every
# scenario on the 6.x kernels, each tool's scenarios on 5.10 and 7.3, then
# the support matrix check over all eight. Each phase's counts are added up; the
# last line is the runner's closing line "N passed, N failed".
set -o errexit -o nounset -o pipefail

usage() {
    cat >&2 <<'USAGE'
Usage: tests/run-all.sh [--quick] [--kernels id,id]
  --quick          skip the VM bench and the first-run demo (Rust and
                   user-space tests only)
  --kernels LIST   every scenario on these kernels only (default: every
                   scenario on the four 6.x ones, each tool's scenarios on
                   5.10 and 7.3; make check-all: every scenario on all eight)
Environment: KVMFI_CACHE (default /var/cache/kvmfi) caches kernels and jars.
USAGE
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOGDIR=${KVMFI_CACHE:-/var/cache/kvmfi}/logs
TOTAL_PASS=0
TOTAL_FAIL=0
FAILED_PHASES=()

log() { printf '[check] %s\n' "$*" >&2; }

# add_counts PHASE LOG: adds a phase's "N passed, N failed" closing line.
add_counts() {
    local phase=$1 file=$2 line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$file" | tail -n 1 || true)
    if [[ -z "$line" ]]; then
        log "$phase: no closing line; counted as one failure"
        TOTAL_FAIL=$((TOTAL_FAIL + 1))
        return
    fi
    p=${line%% passed*}
    f=${line#*passed, }
    f=${f%% failed*}
    TOTAL_PASS=$((TOTAL_PASS + p))
    TOTAL_FAIL=$((TOTAL_FAIL + f))
    log "$phase: $line"
}

# cargo_counts LOG: adds up cargo's "test result:" lines.
cargo_counts() {
    local file=$1 p f
    p=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($i ~ /^passed;?$/) s += $(i-1) } END { print s + 0 }' "$file")
    f=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($i ~ /^failed;?$/) s += $(i-1) } END { print s + 0 }' "$file")
    echo "$p passed, $f failed"
}

# phase NAME CMD...: runs a phase with its output on the console and in a log.
phase() {
    local name=$1
    shift
    local file="$LOGDIR/check-$name.log"
    log "=== $name: $*"
    local rc=0
    "$@" 2>&1 | tee "$file" || rc=$?
    PHASE_LOG=$file
    if [[ $rc -ne 0 ]]; then
        FAILED_PHASES+=("$name(rc=$rc)")
    fi
    return 0
}

main() {
    local quick=0 kernels=""
    while [[ $# -gt 0 ]]; do
        case $1 in
            --quick) quick=1 ;;
            --kernels) kernels=$2; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage; exit 2 ;;
        esac
        shift
    done
    mkdir -p "$LOGDIR"
    cd "$REPO"
    export PATH="$HOME/.cargo/bin:$PATH" DEBIAN_FRONTEND=noninteractive

    phase setup-host bash bench/setup-host.sh
    phase setup-userspace bash tests/userspace/setup.sh

    if [[ $quick -eq 0 ]]; then
        # The README's first command, as a new user runs it: make demo in a
        # fresh clone with an empty cache.
        phase first-run bash tests/first-run.sh
        add_counts first-run "$PHASE_LOG"
    fi

    phase shellcheck bash tests/shellcheck.sh
    add_counts shellcheck "$PHASE_LOG"

    phase cargo-test cargo test --workspace --no-fail-fast
    cargo_counts "$PHASE_LOG" >"$LOGDIR/check-cargo-counts.log"
    add_counts cargo-test "$LOGDIR/check-cargo-counts.log"

    phase userspace bash tests/userspace/run.sh
    add_counts userspace "$PHASE_LOG"

    if [[ $quick -eq 0 ]]; then
        # Tests need no LTO: the quick release flavour halves the two musl
        # builds (the benchmarks and packages keep the full one).
        export BENCH_FAST_BUILD=${BENCH_FAST_BUILD:-1}
        local -a ids=()
        if [[ -n "$kernels" ]]; then
            phase vm-bench bash bench/run.sh --keep-going --kernels "$kernels"
            add_counts vm-bench "$PHASE_LOG"
            IFS=, read -r -a ids <<<"$kernels"
        else
            # Every scenario on the 6.x kernels, then each tool's scenarios,
            # the QEMU ones and the experiment on 5.10 and 7.3 (the split:
            # bench/README.md, "make check and CI").
            phase vm-bench bash bench/run.sh --keep-going
            add_counts vm-bench "$PHASE_LOG"
            local new_ids new_scenarios
            new_ids=$(bash -c 'source bench/lib-common.sh && IFS=, && echo "${NEW_KERNEL_IDS[*]}"')
            new_scenarios=$(bash -c 'source bench/lib-common.sh && echo "$NEW_KERNEL_SCENARIOS"')
            phase vm-bench-new bash bench/run.sh --keep-going --kernels "$new_ids" --scenarios "$new_scenarios"
            add_counts vm-bench-new "$PHASE_LOG"
            read -r -a ids < <(bash -c 'source bench/lib-common.sh && echo "${DEFAULT_KERNEL_IDS[*]} ${NEW_KERNEL_IDS[*]}"')
        fi
        # The support matrix from the logs just written must agree with what
        # kvmfi-check reported on each kernel (bench/matrix.sh --check).
        local failed_before=${#FAILED_PHASES[@]}
        phase matrix bash bench/matrix.sh --check "${ids[@]}"
        # (a failing phase is counted below, with the others)
        ((${#FAILED_PHASES[@]} > failed_before)) || TOTAL_PASS=$((TOTAL_PASS + 1))
    fi

    if [[ ${#FAILED_PHASES[@]} -gt 0 ]]; then
        # A phase that failed without a failing test (a build error, a set-up
        # step) still fails the run: count it once.
        log "phases that exited non-zero (each counted as a failure): ${FAILED_PHASES[*]}"
        TOTAL_FAIL=$((TOTAL_FAIL + ${#FAILED_PHASES[@]}))
    fi
    echo "${TOTAL_PASS} passed, ${TOTAL_FAIL} failed"
    [[ $TOTAL_FAIL -eq 0 && ${#FAILED_PHASES[@]} -eq 0 ]]
}

main "$@"
