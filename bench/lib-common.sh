# shellcheck shell=bash disable=SC2034 # the KID_* and path variables are for the sourcing scripts
# Shared helpers for the kvmfi bench host scripts (sourced, not executed).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "${BENCH_DIR}/.." && pwd)
KVMFI_CACHE=${KVMFI_CACHE:-/var/cache/kvmfi}
export KVMFI_CACHE
# Four generations on two architectures: 5.10 (bullseye), 6.1 (bookworm),
# 6.12 (bookworm-backports), 7.3 (trixie-backports).
ALL_KERNEL_IDS=(x86_64-5.10 x86_64-6.1 x86_64-6.12 x86_64-7.3 arm64-5.10 arm64-6.1 arm64-6.12 arm64-7.3)
# What bench/run.sh runs when no --kernels is given.
DEFAULT_KERNEL_IDS=(x86_64-6.1 x86_64-6.12 arm64-6.1 arm64-6.12)
# The oldest and newest generations: make check runs NEW_KERNEL_SCENARIOS
# there (make check-all runs every scenario).
NEW_KERNEL_IDS=(x86_64-5.10 x86_64-7.3 arm64-5.10 arm64-7.3)
# Every tool's primary effect, off, counters, lease and legacy interface
# (00, 10, 11, 13, 16, 30-35, 40-43), the QEMU scenarios (36-39, 44, 45) and the
# experiment (70), as a --scenarios glob relative to the repository; left
# out: the long reliability, netem, NFS, slow-I/O, disk and compat scenarios.
NEW_KERNEL_SCENARIOS='bench/scenarios/00-*.sh bench/scenarios/1[0136]-*.sh bench/scenarios/3[0-9]-*.sh bench/scenarios/4[0-5]-*.sh bench/scenarios/70-*.sh'
# Built from Debian's linux-source by bench/debug-kernel.sh (KASAN, lockdep,
# kmemleak, the fault-injection framework): never in the default set.
DEBUG_KERNEL_IDS=(x86_64-6.1-debug)

log() { printf '[%s] %s\n' "${LOG_TAG:-bench}" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# kid_parse ID: sets KID_ARCH (x86_64|arm64), KID_SERIES (5.10|6.1|6.12|7.3),
# KID_DEBARCH (amd64|arm64), KID_KARCH (x86|arm64), KID_SUITE (the suite
# whose linux-image-<arch> names the kernel), KID_SUITES (KID_SUITE, then
# the suites to fall back to when its debs are missing on the mirror),
# KID_CROSS, KID_RUST_TARGET, KID_DEBUG (1 for a debug kernel id:
# <arch>-<series>-debug), KID_TOOLCHAIN (host, or the Debian suite whose
# chroot builds the modules: bench/toolchain-chroot.sh), KID_CC (a compiler
# that replaces the one the headers name, or empty).
kid_parse() {
    local id=$1
    KID_DEBUG=0
    case "$id" in
        x86_64-6.1-debug) KID_DEBUG=1 ;;
        *-debug) die "unknown debug kernel id '$id' (known: ${DEBUG_KERNEL_IDS[*]})" ;;
    esac
    case "$id" in
        x86_64-*) KID_ARCH=x86_64 KID_DEBARCH=amd64 KID_KARCH=x86 KID_CROSS="" ;;
        arm64-*) KID_ARCH=arm64 KID_DEBARCH=arm64 KID_KARCH=arm64 KID_CROSS=aarch64-linux-gnu- ;;
        *) die "unknown kernel id '$id' (known: ${ALL_KERNEL_IDS[*]} ${DEBUG_KERNEL_IDS[*]})" ;;
    esac
    KID_SERIES=${id#*-}
    KID_SERIES=${KID_SERIES%-debug}
    KID_TOOLCHAIN=host KID_CC="" KID_SUITES=""
    case "$KID_SERIES" in
        # bullseye's kbuild names gcc-10; bookworm's gcc-12 builds the modules
        5.10) KID_SUITE=bullseye-security KID_SUITES="bullseye-security bullseye" KID_CC="${KID_CROSS}gcc-12" ;;
        6.1) KID_SUITE=bookworm ;;
        6.12) KID_SUITE=bookworm-backports ;;
        # the headers' host programs need glibc 2.38 and the flags gcc-14
        7.3) KID_SUITE=trixie-backports KID_TOOLCHAIN=trixie ;;
        *) die "unknown kernel series '$KID_SERIES' in '$id' (known: 5.10, 6.1, 6.12, 7.3)" ;;
    esac
    [[ -n "$KID_SUITES" ]] || KID_SUITES=$KID_SUITE
    if [[ "$KID_ARCH" == x86_64 ]]; then
        KID_RUST_TARGET=x86_64-unknown-linux-musl
    else
        KID_RUST_TARGET=aarch64-unknown-linux-musl
    fi
}

# Elapsed seconds since $1 (from now_s), one decimal.
now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Make sure cargo/rustup installed under ~/.cargo are reachable.
cargo_path() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -x "${HOME}/.cargo/bin/cargo" ]]; then
        PATH="${HOME}/.cargo/bin:${PATH}"
        export PATH
    fi
}

# bench_lock: one bench pipeline at a time per cache (runs share build/,
# run/, logs/ and userspace/ dirs, and 2 cores do not fit two TCG guests).
# Taken by run.sh and by each script run on its own; children of a holder
# inherit it (KVMFI_BENCH_LOCKED=1). Waits up to BENCH_LOCK_TIMEOUT s (3600).
bench_lock() {
    [[ "${KVMFI_BENCH_LOCKED:-0}" == 1 ]] && return 0
    mkdir -p "$KVMFI_CACHE"
    local f="$KVMFI_CACHE/bench.lock"
    exec 9>>"$f"
    if ! flock -n 9; then
        log "waiting for another bench run to finish (lock $f)"
        flock -w "${BENCH_LOCK_TIMEOUT:-3600}" 9 || die "timed out waiting for $f"
    fi
    export KVMFI_BENCH_LOCKED=1
}
