#!/usr/bin/env bash
# Install everything the kvmfi VM bench needs on a Debian 12 host.
set -o errexit -o nounset -o pipefail

usage() {
    cat <<'USAGE'
Usage: bench/setup-host.sh [-h|--help]

Idempotent, non-interactive host setup for the kvmfi VM bench (Debian 12, root):
  * enables the arm64 dpkg architecture (bench/fetch-kernels.sh downloads
    arm64 packages through a private apt configuration)
  * apt-get installs qemu-system-x86, qemu-system-arm, gcc-aarch64-linux-gnu,
    cpio, xz-utils, zstd, build tools needed to
    build external modules against Debian headers (make, gcc, flex, bison, bc,
    libelf-dev, libssl-dev), shellcheck; iproute2, nfs-kernel-server, nfs-common
    and rpcbind, whose programs scenarios copy into the guest.
    busybox-static is NOT installed here (the amd64 and arm64 packages conflict):
    fetch-kernels.sh downloads and unpacks both into the cache.
  * rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-musl

Environment:
  SKIP_APT=1      skip the apt part
  SKIP_RUSTUP=1   skip the rustup part
USAGE
}

log() { printf '[setup-host] %s\n' "$*" >&2; }

APT_PKGS=(
    qemu-system-x86 qemu-system-arm
    gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross make
    flex bison bc libelf-dev libssl-dev
    cpio xz-utils zstd gzip kmod file
    shellcheck ca-certificates
    # the 7.3 kernels' build chroot (bench/toolchain-chroot.sh)
    debootstrap debian-archive-keyring
    # host programs copied into guests by scenarios (# bench-host-tools:):
    # tc (20-netem), the NFS server and client programs (21-nfs)
    iproute2 nfs-kernel-server nfs-common rpcbind
)

need_apt() {
    local p
    for p in "${APT_PKGS[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            return 0
        fi
    done
    return 1
}

setup_apt() {
    export DEBIAN_FRONTEND=noninteractive
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        log "dpkg --add-architecture arm64"
        dpkg --add-architecture arm64
        rm -f /var/lib/apt/lists/*arm64* 2>/dev/null || true
    fi
    if ! need_apt; then
        log "apt packages already installed"
        return 0
    fi
    log "apt-get update"
    apt-get update -q </dev/null
    log "apt-get install ${APT_PKGS[*]}"
    apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${APT_PKGS[@]}" </dev/null
}

setup_rustup() {
    if ! command -v rustup >/dev/null 2>&1; then
        if [[ -x "${HOME}/.cargo/bin/rustup" ]]; then
            PATH="${HOME}/.cargo/bin:${PATH}"
        else
            log "rustup not found: install Rust first (https://rustup.rs)"
            return 1
        fi
    fi
    local installed
    installed=$(rustup target list --installed)
    local t missing=()
    for t in x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
        grep -qx "$t" <<<"$installed" || missing+=("$t")
    done
    if ((${#missing[@]})); then
        log "rustup target add ${missing[*]}"
        rustup target add "${missing[@]}" </dev/null
    else
        log "rust musl targets already installed"
    fi
}

main() {
    case "${1:-}" in
        -h | --help) usage; return 0 ;;
        "") ;;
        *) usage >&2; return 2 ;;
    esac
    if [[ "$(id -u)" != 0 ]]; then
        log "must run as root (apt-get install)"
        return 1
    fi
    [[ "${SKIP_APT:-0}" == 1 ]] || setup_apt
    [[ "${SKIP_RUSTUP:-0}" == 1 ]] || setup_rustup
    log "done"
}

main "$@"
