#!/usr/bin/env bash
# A Debian chroot with the toolchain a bench kernel's headers need.
set -o errexit -o nounset -o pipefail

# shellcheck source=bench/lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
LOG_TAG=toolchain

usage() {
    cat <<'USAGE'
Usage: bench/toolchain-chroot.sh [--refresh] SUITE
       bench/toolchain-chroot.sh --run SUITE -- COMMAND [ARGS...]

Kernels newer than the host's Debian ship headers whose host programs
(modpost, objtool, resolve_btfids) need a newer glibc and whose flags need a
newer gcc (7.3: glibc 2.38, gcc-14). This script makes a chroot of SUITE
(trixie) with `debootstrap --variant=buildd` and the packages the module
build needs (gcc-14, gcc-14-aarch64-linux-gnu, make, bc, flex, bison,
libelf-dev, libssl-dev), cached in ${KVMFI_CACHE}/toolchains/SUITE/ and
remade only when the package list changes (or with --refresh).

--run runs COMMAND in the chroot, in a private mount namespace with
${KVMFI_CACHE}, /dev and /proc bound at the same paths (so the kernel
headers and the module copy keep their absolute paths).

Environment:
  KVMFI_CACHE          cache root (default /var/cache/kvmfi)
  KVMFI_DEBIAN_MIRROR  Debian mirror (default http://deb.debian.org/debian)
USAGE
}

# The packages are part of the cache key: a change remakes the chroot.
CHROOT_PKGS=gcc-14,gcc-14-aarch64-linux-gnu,make,bc,flex,bison,libelf-dev,libssl-dev

chroot_dir() { printf '%s/toolchains/%s' "$KVMFI_CACHE" "$1"; }

make_chroot() { # SUITE REFRESH
    local suite=$1 refresh=$2 dir t0
    dir=$(chroot_dir "$suite")
    if [[ "$refresh" == 0 && -f "$dir/.kvmfi-pkgs" && "$(cat "$dir/.kvmfi-pkgs")" == "$CHROOT_PKGS" ]]; then
        log "$suite chroot: cached in $dir"
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap missing: run bench/setup-host.sh (or apt-get install debootstrap)"
    [[ -f "/usr/share/debootstrap/scripts/$suite" ]] || die "this debootstrap does not know '$suite' (apt-get install -t bookworm-backports debootstrap)"
    t0=$(now_s)
    rm -rf "$dir.new"
    mkdir -p "$dir.new"
    log "$suite chroot: debootstrap --variant=buildd (packages $CHROOT_PKGS) into $dir.new"
    if ! debootstrap --variant=buildd --include="$CHROOT_PKGS" \
        --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
        "$suite" "$dir.new" "${KVMFI_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
        >"$KVMFI_CACHE/toolchains/$suite.log" 2>&1; then
        tail -n 20 "$KVMFI_CACHE/toolchains/$suite.log" >&2
        die "debootstrap $suite failed (log: $KVMFI_CACHE/toolchains/$suite.log)"
    fi
    rm -rf "$dir.new/var/cache/apt/archives/"*.deb
    printf '%s\n' "$CHROOT_PKGS" >"$dir.new/.kvmfi-pkgs"
    rm -rf "$dir"
    mv "$dir.new" "$dir"
    log "$suite chroot: ready in $(elapsed "$t0") s ($(du -sh "$dir" | cut -f1))"
}

run_in_chroot() { # SUITE COMMAND...
    local suite=$1 dir
    shift
    dir=$(chroot_dir "$suite")
    [[ -f "$dir/.kvmfi-pkgs" ]] || die "no $suite chroot (bench/toolchain-chroot.sh $suite)"
    mkdir -p "$dir$KVMFI_CACHE" "$dir/dev" "$dir/proc"
    # A private mount namespace: the binds vanish with the command.
    # shellcheck disable=SC2016 # expanded by the inner sh
    unshare -m -- sh -c '
        set -e
        dir=$1 cache=$2
        shift 2
        mount --make-rprivate /
        mount --bind "$cache" "$dir$cache"
        mount --bind /dev "$dir/dev"
        mount -t proc proc "$dir/proc"
        exec chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C "$@"
    ' sh "$dir" "$KVMFI_CACHE" "$@"
}

main() {
    local refresh=0 run=0
    while (($#)); do
        case "$1" in
            -h | --help) usage; return 0 ;;
            --refresh) refresh=1 ;;
            --run) run=1 ;;
            -*) usage >&2; return 2 ;;
            *) break ;;
        esac
        shift
    done
    (($#)) || { usage >&2; return 2; }
    local suite=$1
    shift
    [[ "$suite" =~ ^[a-z]+$ ]] || die "bad suite name '$suite' (e.g. trixie)"
    mkdir -p "$KVMFI_CACHE/toolchains"
    if ((run)); then
        [[ "${1:-}" == -- ]] && shift
        (($#)) || die "--run needs a command after --"
        run_in_chroot "$suite" "$@"
    else
        bench_lock
        make_chroot "$suite" "$refresh"
    fi
}

main "$@"
