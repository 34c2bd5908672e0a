#!/usr/bin/env bash
# Download (never install) Debian's QEMU for the bench guests that run a real
# VMM, and pack it as an add-on initramfs part.
set -o errexit -o nounset -o pipefail

# shellcheck source=bench/fetch-kernels.sh
source "$(dirname "${BASH_SOURCE[0]}")/fetch-kernels.sh"
LOG_TAG=fetch-qemu

usage() {
    cat <<'USAGE'
Usage: bench/fetch-qemu.sh [--refresh] amd64|arm64...

Downloads Debian bookworm's qemu-system-x86 (amd64) or qemu-system-arm:arm64
and the library packages they depend on, with the bench's private apt
configuration (see fetch-kernels.sh; /etc/apt is never touched), unpacks them
with dpkg -x and keeps the QEMU binary with exactly the shared libraries it
loads (its ELF NEEDED closure) and the loader. No firmware: the scenarios'
guest payloads (bench/qemu-payload) need none.

Result in ${KVMFI_CACHE:-/var/cache/kvmfi}/qemu/<debarch>/:
  part/          the add-on tree (usr/bin/qemu-system-<arch>, lib/...)
  qemu.cpio.gz   that tree as a newc archive, appended to the initramfs of
                 a boot whose scenarios say "# bench-needs: qemu"
  version        the package version
A cached arch is reused offline; --refresh downloads again.
USAGE
}

# qemu_names DEBARCH: sets Q_PKG (package), Q_BIN (binary), Q_TRIPLET.
qemu_names() {
    case "$1" in
        amd64) Q_PKG=qemu-system-x86 Q_BIN=qemu-system-x86_64 Q_TRIPLET=x86_64-linux-gnu ;;
        arm64) Q_PKG=qemu-system-arm:arm64 Q_BIN=qemu-system-aarch64 Q_TRIPLET=aarch64-linux-gnu ;;
        *) die "unknown architecture '$1' (amd64 or arm64)" ;;
    esac
}

# lib_packages DEBARCH: the package and its library dependencies (recursive,
# Depends only) of that architecture, as name:arch.
lib_packages() {
    local debarch=$1 p
    apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
        --no-replaces --no-enhances "$Q_PKG" 2>/dev/null | grep -v '^[ <]' | sort -u |
        while IFS= read -r p; do
            case "$p" in
                *:"$debarch") p=${p%:*} ;;
                *:*) continue ;;
                *) [[ "$debarch" == amd64 ]] || continue ;;
            esac
            echo "$p:$debarch"
        done
}

# needed_closure ROOT TRIPLET FILE: the shared libraries FILE loads, found in
# ROOT's lib dirs, recursively; one path (relative to ROOT) per line.
needed_closure() {
    local root=$1 triplet=$2 f so d
    local -a todo=("$3")
    local -A seen=()
    while ((${#todo[@]})); do
        f=${todo[0]}
        todo=("${todo[@]:1}")
        for so in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            [[ -n "${seen[$so]:-}" ]] && continue
            seen[$so]=1
            for d in "lib/$triplet" "usr/lib/$triplet" lib usr/lib; do
                if [[ -e "$root/$d/$so" ]]; then
                    echo "$d/$so"
                    todo+=("$root/$d/$so")
                    continue 2
                fi
            done
            die "$so (needed by ${f#"$root"/}) is in none of the downloaded packages"
        done
    done
}

fetch_qemu() {
    local debarch=$1 refresh=$2 dir="${KVMFI_CACHE}/qemu/$1" t0 ver
    qemu_names "$debarch"
    if [[ -f "$dir/qemu.cpio.gz" && "$refresh" == 0 ]]; then
        log "$debarch: cached QEMU $(cat "$dir/version")"
        return 0
    fi
    t0=$(now_s)
    apt_setup
    apt_update
    ver=$(candidate_version "$Q_PKG" bookworm)
    [[ -n "$ver" && "$ver" != "(none)" ]] || die "no candidate for $Q_PKG in bookworm"
    rm -rf "$dir.new"
    mkdir -p "$dir.new/debs" "$dir.new/root" "$dir.new/part"
    local -a pkgs
    mapfile -t pkgs < <(lib_packages "$debarch")
    ((${#pkgs[@]})) || die "cannot resolve the dependencies of $Q_PKG"
    apt_download "$dir.new/debs" "${pkgs[@]}"
    log "$debarch: downloaded ${#pkgs[@]} packages, $(du -sh "$dir.new/debs" | cut -f1), in $(elapsed "$t0") s"
    local deb
    for deb in "$dir.new"/debs/*.deb; do dpkg -x "$deb" "$dir.new/root"; done
    local root="$dir.new/root" part="$dir.new/part" bin="usr/bin/$Q_BIN" ld rel
    [[ -x "$root/$bin" ]] || die "$Q_PKG has no $bin"
    # The loader the binary asks for (PT_INTERP), at that same path.
    ld=$(readelf -l "$root/$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)\]/\1/p')
    [[ -n "$ld" ]] || die "$bin has no program interpreter"
    mkdir -p "$part/usr/bin" "$part$(dirname "$ld")"
    cp "$root/$bin" "$part/$bin"
    cp -L "$root/lib/$Q_TRIPLET/$(basename "$ld")" "$part$ld"
    needed_closure "$root" "$Q_TRIPLET" "$root/$bin" >"$dir.new/libs"
    while IFS= read -r rel; do
        mkdir -p "$part/$(dirname "$rel")"
        cp -L "$root/$rel" "$part/$rel"
    done <"$dir.new/libs"
    echo "$ver" >"$dir.new/version"
    (cd "$part" && find . -print0 | LC_ALL=C sort -z |
        cpio --quiet -o -0 -H newc -R 0:0 | gzip -1 >"$dir.new/qemu.cpio.gz")
    rm -rf "$dir.new/root" "$dir"
    mv "$dir.new" "$dir"
    log "$debarch: QEMU $ver ready: $(du -sh "$dir/part" | cut -f1) unpacked, $(du -h "$dir/qemu.cpio.gz" | cut -f1) packed, $(elapsed "$t0") s"
}

main() {
    local refresh=0 arches=() a
    while (($#)); do
        case "$1" in
            -h | --help) usage; return 0 ;;
            --refresh) refresh=1 ;;
            -*) usage >&2; return 2 ;;
            *) arches+=("$1") ;;
        esac
        shift
    done
    ((${#arches[@]})) || { usage >&2; return 2; }
    for a in "${arches[@]}"; do qemu_names "$a"; done
    bench_lock
    for a in "${arches[@]}"; do fetch_qemu "$a" "$refresh"; done
}

main "$@"
