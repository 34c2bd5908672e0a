#!/usr/bin/env bash
# make demo: sets up the host, boots the bundled test VM (Debian 6.1 x86_64
# under QEMU) and shows vfs-read-fi failing one process's reads of a disk
# image while another process reads the same file fine.
#
# A newcomer's first command: it prints one line per set-up step with the
# time spent so far (the steps' own output goes to logs), then the effect,
# then where to go next. A failed step is named with the log to read.
set -o errexit -o nounset -o pipefail

usage() {
    cat >&2 <<'USAGE'
Usage: bench/demo.sh [--kernel ID] [--verbose]
  --kernel ID   the test VM's kernel (default x86_64-6.1; also arm64-6.1,
                x86_64-6.12, arm64-6.12)
  --verbose     show every step's own output instead of progress lines
Environment: KVMFI_CACHE (default /var/cache/kvmfi) holds the kernels, the
builds and the logs (logs/demo-*.log).
USAGE
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KVMFI_CACHE:-/var/cache/kvmfi}
LOGS=$CACHE/logs
VERBOSE=0
# Seconds between two progress lines when the output is not a terminal (CI, a pipe).
TICK=${DEMO_TICK:-30}
T0=$SECONDS

say() { printf '%s\n' "$*"; }
mmss() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# step N TOTAL TITLE LOG CMD...: runs CMD with its output in LOG and shows
# progress: on a terminal one line kept up to date, elsewhere a line every
# $TICK seconds. On failure: the step, the log, its last lines; exit 1.
step() {
    local n=$1 total=$2 title=$3 logf=$4
    shift 4
    local t=$SECONDS rc=0 head
    head=$(printf '[%d/%d] %s' "$n" "$total" "$title")
    if ((VERBOSE)); then
        say "$head"
        "$@" 2>&1 | tee "$logf" || rc=$?
    else
        "$@" >"$logf" 2>&1 &
        local pid=$! last=$SECONDS
        if [[ -t 1 ]]; then
            while kill -0 "$pid" 2>/dev/null; do
                printf '\r%s ... %s' "$head" "$(mmss $((SECONDS - t)))"
                sleep 1
            done
            printf '\r\033[K'
        else
            say "$head ..."
            while kill -0 "$pid" 2>/dev/null; do
                sleep 1
                if ((SECONDS - last >= TICK)); then
                    say "      still at it: $(mmss $((SECONDS - t))) (log: $logf)"
                    last=$SECONDS
                fi
            done
        fi
        wait "$pid" || rc=$?
    fi
    if ((rc != 0)); then
        say "$head: FAILED after $(mmss $((SECONDS - t))) (exit $rc)"
        say ""
        say "The last lines of its log, $logf:"
        tail -n 15 "$logf" | sed 's/^/    /'
        say ""
        say "Read the whole log for the cause, then run make demo again: finished steps are cached."
        exit 1
    fi
    ((VERBOSE)) || say "$head: done in $(mmss $((SECONDS - t)))"
}

main() {
    local kernel=x86_64-6.1
    while [[ $# -gt 0 ]]; do
        case $1 in
            --kernel)
                [[ $# -ge 2 ]] || { say "demo: --kernel needs a kernel id, e.g. --kernel arm64-6.1" >&2; exit 2; }
                kernel=$2
                shift
                ;;
            --verbose) VERBOSE=1 ;;
            -h | --help) usage; exit 0 ;;
            *) say "demo: unknown argument '$1'" >&2; usage; exit 2 ;;
        esac
        shift
    done
    # shellcheck source=bench/lib-common.sh
    source "$REPO/bench/lib-common.sh"
    ( kid_parse "$kernel" ) 2>/dev/null || {
        say "demo: unknown kernel '$kernel' (known: ${ALL_KERNEL_IDS[*]})" >&2
        exit 2
    }
    local arch=x86_64
    [[ "$kernel" == arm64-* ]] && arch=aarch64
    mkdir -p "$LOGS"
    cd "$REPO"
    say "kvmfi demo: a read fault in a real Linux $kernel kernel, booted under QEMU."
    say "Set-up runs once (apt packages, a Debian kernel, the modules and the tools); later runs take seconds."
    say ""
    step 1 5 "host packages (apt-get, rustup targets)" "$LOGS/demo-setup-host.log" \
        bash bench/setup-host.sh
    cargo_path
    step 2 5 "Debian kernel $kernel (download, unpack)" "$LOGS/demo-fetch-kernel.log" \
        bash bench/fetch-kernels.sh "$kernel"
    step 3 5 "kernel modules for $kernel" "$LOGS/demo-build-modules.log" \
        bash bench/build-modules.sh "$kernel"
    step 4 5 "the tools (cargo build for $arch; the first run takes a few minutes)" "$LOGS/demo-build-tools.log" \
        env BENCH_PACKAGES="vfs-read-fi kvmfi-guest-tools" bash bench/build-userspace.sh "$arch"
    step 5 5 "boot the test VM and run the demo" "$LOGS/demo-run.log" \
        env BENCH_SKIP_BUILD=1 bash bench/run.sh --kernels "$kernel" --scenarios bench/demo/50-demo.sh
    say ""
    local shown
    shown=$(grep -a '^DEMO| ' "$LOGS/$kernel.log" | sed 's/^DEMO| //' | tr -d '\r')
    if [[ -z "$shown" ]]; then
        say "The VM ran but printed no demo output: see $LOGS/$kernel.log"
        exit 1
    fi
    say "$shown"
    say ""
    say "Shown in $(mmss $((SECONDS - T0))) ($(tail -n 1 "$LOGS/demo-run.log"); console log $LOGS/$kernel.log)."
    say "Next: man vfs-read-fi (after make install, or man ./man/vfs-read-fi.8) for the options; make check runs every test."
}

main "$@"
