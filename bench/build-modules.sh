#!/usr/bin/env bash
# Build the out-of-tree kvmfi kernel modules against one bench kernel.
set -o errexit -o nounset -o pipefail

# shellcheck source=bench/lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
LOG_TAG=build-modules

usage() {
    cat <<'USAGE'
Usage: bench/build-modules.sh <kernel-id>

Copies $KMOD_SRC (default: <repo>/kmod) to ${KVMFI_CACHE}/build/<id>/kmod and runs
  make -C <copy> KERNEL_DIR=<headers dir> ARCH=<x86|arm64> CROSS_COMPILE=<prefix>
       [CONFIG_DEBUG_INFO_BTF_MODULES=]   (all but 6.1: no pahole/BTF needed)
       [CC=<prefix>gcc-12]                (5.10: its kbuild names gcc-10)
7.3 builds in a trixie chroot (glibc 2.38, gcc-14; bench/toolchain-chroot.sh,
made and cached on first use). The result is cached by content: the same
sources, kernel and toolchain reuse the last build's modules.
Every *.ko found in the copy afterwards is collected into
${KVMFI_CACHE}/build/<id>/ko/ (flat; names must be unique) and listed in
${KVMFI_CACHE}/build/<id>/ko.list. The kernel must be fetched first
(bench/fetch-kernels.sh <id>). A missing KMOD_SRC or a source tree with
no Makefile yields an empty module set (warning), not an error.

Environment:
  KVMFI_CACHE   cache root (default /var/cache/kvmfi)
  KMOD_SRC      module source tree (default <repo>/kmod)
  KMOD_MAKE_ARGS  extra make arguments (word-split)
USAGE
}

main() {
    case "${1:-}" in
        -h | --help) usage; return 0 ;;
        "") usage >&2; return 2 ;;
    esac
    local id=$1 t0
    t0=$(now_s)
    kid_parse "$id"
    bench_lock
    local kdir="${KVMFI_CACHE}/kernels/$id"
    [[ -f "$kdir/kernel.env" ]] || die "$id: not fetched (run bench/fetch-kernels.sh $id)"
    local KREL HEADERS_DIR
    # shellcheck disable=SC1091
    source "$kdir/kernel.env"
    local src=${KMOD_SRC:-${REPO_DIR}/kmod}
    local out="${KVMFI_CACHE}/build/$id"
    if [[ ! -f "$src/Makefile" ]]; then
        rm -rf "$out/kmod" "$out/ko" "$out/ko.key"
        mkdir -p "$out/ko"
        : >"$out/ko.list"
        log "$id: warning: no Makefile in KMOD_SRC=$src: no modules built"
        return 0
    fi
    local -a args=(KERNEL_DIR="$HEADERS_DIR" ARCH="$KID_KARCH")
    [[ -n "$KID_CROSS" ]] && args+=(CROSS_COMPILE="$KID_CROSS")
    [[ -n "$KID_CC" ]] && args+=(CC="$KID_CC")
    case "$KID_SERIES" in
        6.1) ;;
        *) args+=(CONFIG_DEBUG_INFO_BTF_MODULES=) ;;
    esac
    local -a extra=()
    # shellcheck disable=SC2206 # word splitting intended
    [[ -n "${KMOD_MAKE_ARGS:-}" ]] && extra=(${KMOD_MAKE_ARGS})
    # Cached by content: the sources (not their build artefacts), the
    # kernel, the make arguments and the toolchain chroot's package list.
    local key
    key=$( (
        cd "$src" && find . -type f ! -name '*.o' ! -name '*.ko' ! -name '*.mod' ! -name '*.mod.c' \
            ! -name '.*.cmd' ! -name '*.order' ! -name '*.symvers' -print0 | LC_ALL=C sort -z |
            xargs -0 -r sha256sum
        cat "$kdir/kernel.env"
        printf '%s\n' "${args[@]}" "${extra[@]}" "$KID_TOOLCHAIN"
        [[ "$KID_TOOLCHAIN" == host ]] || cat "${KVMFI_CACHE}/toolchains/$KID_TOOLCHAIN/.kvmfi-pkgs" 2>/dev/null || true
    ) | sha256sum | cut -d' ' -f1)
    if [[ -f "$out/ko.key" && "$(cat "$out/ko.key")" == "$key" && -s "$out/ko.list" ]]; then
        log "$id: $(wc -l <"$out/ko.list") module(s) unchanged since the last build (content key ${key:0:12}), reused"
        return 0
    fi
    rm -rf "$out/kmod" "$out/ko" "$out/ko.key"
    mkdir -p "$out/ko"
    : >"$out/ko.list"
    cp -a "$src" "$out/kmod"
    local -a runner=()
    if [[ "$KID_TOOLCHAIN" != host ]]; then
        "$BENCH_DIR/toolchain-chroot.sh" "$KID_TOOLCHAIN"
        runner=("$BENCH_DIR/toolchain-chroot.sh" --run "$KID_TOOLCHAIN" --)
    fi
    log "$id: ${runner[*]:+(in the $KID_TOOLCHAIN chroot) }make -C $out/kmod ${args[*]} ${extra[*]}"
    if ! "${runner[@]}" make -s -j"$(nproc)" -C "$out/kmod" "${args[@]}" "${extra[@]}" >"$out/make.log" 2>&1; then
        cat "$out/make.log" >&2
        die "$id: module build failed (log: $out/make.log)"
    fi
    local ko name n=0
    while IFS= read -r -d '' ko; do
        name=$(basename "$ko")
        [[ -e "$out/ko/$name" ]] && die "$id: duplicate module name $name"
        cp "$ko" "$out/ko/$name"
        printf '%s\n' "$name" >>"$out/ko.list"
        n=$((n + 1))
    done < <(find "$out/kmod" -name '*.ko' -type f -print0 | sort -z)
    # A tree that declares modules but yields none did not build (a make goal
    # that does nothing, say): that is an error, not an empty module set.
    if ((n == 0)) && grep -qs '^obj-m' "$src/Kbuild"; then
        die "$id: $src/Kbuild declares modules but the build produced none"
    fi
    if ((n)); then
        local vm
        vm=$(modinfo -F vermagic "$out/ko/$(head -n1 "$out/ko.list")" 2>/dev/null || true)
        [[ "$vm" == "$KREL "* ]] || die "$id: vermagic '$vm' does not match $KREL"
    fi
    printf '%s\n' "$key" >"$out/ko.key"
    log "$id: $n module(s) in $out/ko: $(tr '\n' ' ' <"$out/ko.list")($(elapsed "$t0") s)"
}

main "$@"
