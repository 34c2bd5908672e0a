#!/usr/bin/env bash
# Runs shellcheck over every shell script of the tree (settings in .shellcheckrc).
# Host scripts are checked as bash (or the shell of their #! line); the
# scripts that run inside the bench guests (scenarios, benchmarks, the demo,
# /init and its lib.sh) as POSIX sh, which busybox runs.
# Prints one PASS/FAIL line per script and the closing line "N passed, N failed".
set -o errexit -o nounset -o pipefail

usage() { echo "Usage: tests/shellcheck.sh   (run from anywhere; needs shellcheck)" >&2; }

main() {
    case "${1:-}" in
        -h | --help) usage; return 0 ;;
        "") ;;
        *) usage; return 2 ;;
    esac
    cd "$(dirname "${BASH_SOURCE[0]}")/.."
    command -v shellcheck >/dev/null || { echo "shellcheck: not installed (apt-get install shellcheck; bench/setup-host.sh does)" >&2; return 1; }
    local passed=0 failed=0 f out line
    local -a args
    while IFS= read -r f; do
        [[ -f "$f" ]] || continue
        case "$f" in
            # Guest scripts source /bench/lib.sh, a path that exists only in
            # the guest (SC1091: not followed); lib.sh is checked on its own.
            bench/scenarios/* | bench/benchmarks/* | bench/demo/*.sh | bench/guest/*) args=(-s sh -e SC1091) ;;
            *) args=() ;;
        esac
        if out=$(shellcheck "${args[@]}" "$f" 2>&1); then
            echo "PASS shellcheck/$f"
            passed=$((passed + 1))
        else
            echo "FAIL shellcheck/$f"
            while IFS= read -r line; do printf '    %s\n' "$line"; done <<<"$out"
            failed=$((failed + 1))
        fi
    done < <({ git ls-files '*.sh' 'bench/guest/init' 'cluster_manage.sh'; git ls-files -o --exclude-standard '*.sh'; } | sort -u)
    echo "$passed passed, $failed failed"
    ((failed == 0))
}

main "$@"
