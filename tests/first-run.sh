#!/usr/bin/env bash
# The README's first command as a new user runs it: `make demo` in a fresh
# clone, with a cache directory that has never been used (no kernels, no
# builds, no logs). Only what apt and cargo keep themselves is reused, and
# the cargo target directory (FIRST_RUN_TARGET_DIR), so that the check costs
# about a minute once the toolchain has built the crates.
#
# Passes when make demo exits 0 and shows the effect: the target process's
# reads fail with EIO while another process reads the same file fine.
# Prints PASS/FAIL lines and the runner's closing line "N passed, N failed".
set -o errexit -o nounset -o pipefail

usage() {
    cat >&2 <<'USAGE'
Usage: tests/first-run.sh
Environment:
  KVMFI_CACHE           the usual cache (default /var/cache/kvmfi): only its
                        logs/ directory is used, for first-run-*.log
  FIRST_RUN_TARGET_DIR  cargo target directory kept between runs
                        (default $KVMFI_CACHE/target-first-run)
USAGE
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MAIN_CACHE=${KVMFI_CACHE:-/var/cache/kvmfi}
PASSED=0
FAILED=0

result() { # PASS|FAIL name [reason]
    local kind=$1 name=$2
    shift 2
    printf '%s first-run/%s%s\n' "$kind" "$name" "${*:+ $*}"
    if [[ $kind == PASS ]]; then PASSED=$((PASSED + 1)); else FAILED=$((FAILED + 1)); fi
}

main() {
    case "${1:-}" in
        -h | --help) usage; return 0 ;;
        "") ;;
        *) usage; return 2 ;;
    esac
    local work
    work=$(mktemp -d /tmp/kvmfi-first-run.XXXXXX)
    # shellcheck disable=SC2064 # expand $work now
    trap "rm -rf '$work'" EXIT
    mkdir -p "$MAIN_CACHE/logs"
    local out="$MAIN_CACHE/logs/first-run-demo.log"

    # The commit a new user would clone; uncommitted changes to tracked
    # files are included (git stash create records them without touching
    # the work tree), so a developer's run checks what they are about to commit.
    local rev
    rev=$(git -C "$REPO" stash create 2>/dev/null || true)
    [[ -n "$rev" ]] || rev=$(git -C "$REPO" rev-parse HEAD)
    git clone --quiet --no-checkout "$REPO" "$work/kvmfi"
    git -C "$work/kvmfi" checkout --quiet --detach "$rev"
    echo "first-run: make demo in a fresh clone ($rev) with an empty KVMFI_CACHE=$work/cache"

    local rc=0 t=$SECONDS
    (
        cd "$work/kvmfi"
        env -u KVMFI_BENCH_LOCKED KVMFI_CACHE="$work/cache" \
            CARGO_TARGET_DIR="${FIRST_RUN_TARGET_DIR:-$MAIN_CACHE/target-first-run}" \
            make demo </dev/null
    ) >"$out" 2>&1 || rc=$?
    echo "first-run: make demo exited $rc after $((SECONDS - t)) s (output: $out)"
    sed 's/^/    | /' "$out"

    if ((rc == 0)); then
        result PASS make-demo-exit-0
    else
        result FAIL make-demo-exit-0 "make demo exited $rc (output: $out)"
    fi
    # The effect, as the demo prints it (see bench/demo/50-demo.sh).
    if grep -Eq '^target process \(pid [0-9]+\): ok=3 err=5 errno=EIO ' "$out"; then
        result PASS target-reads-fail-eio
    else
        result FAIL target-reads-fail-eio "no 'target process ... ok=3 err=5 errno=EIO' line in $out"
    fi
    if grep -Eq '^another process: +ok=8 err=0 ' "$out"; then
        result PASS other-reads-ok
    else
        result FAIL other-reads-ok "no 'another process: ok=8 err=0' line in $out"
    fi
    if grep -q '^Next: ' "$out"; then
        result PASS says-where-next
    else
        result FAIL says-where-next "no 'Next:' line in $out"
    fi
    if ((rc != 0)) && [[ -d "$work/cache/logs" ]]; then
        rm -rf "$MAIN_CACHE/logs/first-run-logs"
        cp -r "$work/cache/logs" "$MAIN_CACHE/logs/first-run-logs"
        echo "first-run: the demo's own logs kept in $MAIN_CACHE/logs/first-run-logs"
    fi
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0))
}

main "$@"
