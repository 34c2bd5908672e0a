#!/usr/bin/env bash
# make demo: sets up the host, boots the bundled test VM (Debian 6.1 x86_64
# under QEMU) and shows vfs-read-fi failing one process's reads of a disk
# image while another process reads the same file fine.
set -o errexit -o nounset -o pipefail

usage() {
    echo "Usage: bench/demo.sh [--kernel ID]   (default x86_64-6.1; also arm64-6.1, x86_64-6.12, arm64-6.12)" >&2
}

main() {
    local kernel=x86_64-6.1
    while [[ $# -gt 0 ]]; do
        case $1 in
            --kernel) kernel=$2; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage; exit 2 ;;
        esac
        shift
    done
    local repo cache
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    cache=${KVMFI_CACHE:-/var/cache/kvmfi}
    cd "$repo"
    mkdir -p "$cache/logs"
    bash bench/setup-host.sh
    local rc=0
    bash bench/run.sh --kernels "$kernel" --scenarios bench/demo/50-demo.sh >"$cache/logs/demo-run.log" 2>&1 || rc=$?
    echo
    grep -a '^DEMO| ' "$cache/logs/$kernel.log" | sed 's/^DEMO| //' | tr -d '\r'
    echo
    tail -n 1 "$cache/logs/demo-run.log"
    return $rc
}

main "$@"
