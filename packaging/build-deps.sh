#!/usr/bin/env bash
# What `make` needs before cargo runs, on a Debian machine that has never
# built kvmfi: a C toolchain, make, pkg-config and OpenSSL's headers (the
# ssh2 crate of cluster_controller builds libssh2 against them). As root the
# missing Debian packages are installed; otherwise they are named.
# Rust itself is not a Debian package here (Debian 12's rustc is older than
# the workspace's rust-version): a missing cargo is named with rustup's line.
set -o errexit -o nounset -o pipefail

PACKAGES=(gcc make pkg-config libssl-dev)

die() { echo "build-deps: $*" >&2; exit 1; }

main() {
    case "${1:-}" in
        -h | --help) echo "Usage: packaging/build-deps.sh   (installs gcc make pkg-config libssl-dev when missing)" >&2; return 0 ;;
        "") ;;
        *) echo "build-deps: unknown argument '$1'" >&2; return 2 ;;
    esac
    if ! command -v cargo >/dev/null 2>&1 && [[ ! -x "$HOME/.cargo/bin/cargo" ]]; then
        die "cargo not found: install Rust with rustup (https://rustup.rs), then run make again"
    fi
    command -v dpkg-query >/dev/null 2>&1 || return 0 # not Debian: the user's own toolchain
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    if [[ "$(id -u)" != 0 ]]; then
        die "missing Debian packages ${missing[*]}: run 'apt-get install ${missing[*]}' as root, then make again"
    fi
    echo "build-deps: apt-get install ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2 || {
        apt-get update -q </dev/null >&2
        apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null >&2
    }
}

main "$@"
