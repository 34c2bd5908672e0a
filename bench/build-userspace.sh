#!/usr/bin/env bash
# Build static musl release binaries of the kvmfi workspace for a bench guest.
set -o errexit -o nounset -o pipefail

# shellcheck source=bench/lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
LOG_TAG=build-userspace

usage() {
    cat <<'USAGE'
Usage: bench/build-userspace.sh <x86_64|aarch64|arm64>

Runs cargo build --release --target <arch>-unknown-linux-musl --bins -p <pkg>...
with CARGO_TARGET_DIR=${KVMFI_CACHE}/target (outside the repo, so other
builds' locks do not block it) and copies every binary built into
${KVMFI_CACHE}/userspace/<arch>/bin/ (listed in bin.list). Every binary
must be statically linked.

Environment:
  KVMFI_CACHE       cache root (default /var/cache/kvmfi)
  BENCH_STRICT=1    fail when any selected package does not build (default:
                    cargo build --keep-going, and the packages that produced
                    no binary are skipped with a warning and listed in
                    failed.list; kvmfi-guest-tools must always build)
  BENCH_PACKAGES    space/comma separated workspace packages to build
                    (default: every package whose name ends in -fi or -main,
                    plus every package under bench/, e.g. kvmfi-guest-tools);
                    "all" = --workspace
  CARGO_TARGET_DIR  default ${KVMFI_CACHE}/target
  BENCH_FAST_BUILD=1  release without LTO, 16 codegen units (quicker builds
                    for test runs; target dir ${KVMFI_CACHE}/target-fast)
  aarch64 links with aarch64-linux-gnu-gcc
  (CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER, overridable).
USAGE
}

# Default selection: every workspace package whose name ends in -fi or -main,
# kvmfi-check, the *_injector tools (netem and NFS faults are proven in the guest),
# and every package that lives under bench/ (kvmfi-guest-tools, test VMMs...).
default_packages() {
    local meta
    meta=$(cargo metadata --no-deps --format-version 1 --manifest-path "$REPO_DIR/Cargo.toml")
    # shellcheck disable=SC2001 # a newline in the replacement
    sed 's/{"name":"/\n&/g' <<<"$meta" |
        awk -F'"' -v bench="$REPO_DIR/bench/" '
            /^\{"name":"[^"]*","version"/ { pkg = $4 }
            /"manifest_path":"/ {
                match($0, /"manifest_path":"[^"]*"/)
                mp = substr($0, RSTART + 17, RLENGTH - 18)
                if (pkg ~ /-fi$|-main$|^kvmfi-(check|experiment|halt)$|_injector$/ || index(mp, bench) == 1) print pkg
            }' | sort -u
}

# cargo_build TARGET MSGS LOG PKG-ARGS...
cargo_build() {
    local target=$1 msgs=$2 logf=$3
    shift 3
    cargo build --release --target "$target" --bins "$@" \
        --manifest-path "$REPO_DIR/Cargo.toml" --message-format=json-render-diagnostics \
        >"$msgs" 2>"$logf"
}

# package_bins: "package bin" pairs of the workspace (target objects follow
# their package's dependency objects in cargo metadata).
package_bins() {
    local meta
    meta=$(cargo metadata --no-deps --format-version 1 --manifest-path "$REPO_DIR/Cargo.toml")
    # shellcheck disable=SC2001 # a newline in the replacement
    sed 's/{"name":"/\n&/g' <<<"$meta" |
        awk -F'"' '
            /^\{"name":"[^"]*","version"/ { pkg = $4 }
            {
                r = $0
                while (match(r, /"kind":\["bin"\],"crate_types":\["bin"\],"name":"[^"]*"/)) {
                    t = substr(r, RSTART, RLENGTH); sub(/.*"name":"/, "", t); sub(/"$/, "", t)
                    print pkg, t
                    r = substr(r, RSTART + RLENGTH)
                }
            }'
}

main() {
    local arch=${1:-}
    case "$arch" in
        -h | --help) usage; return 0 ;;
        x86_64) ;;
        aarch64 | arm64) arch=aarch64 ;;
        *) usage >&2; return 2 ;;
    esac
    cargo_path
    bench_lock
    local t0 target="${arch}-unknown-linux-musl"
    t0=$(now_s)
    if [[ "${BENCH_FAST_BUILD:-0}" == 1 ]]; then
        # Quicker links for test runs: no LTO, more codegen units; a separate
        # target dir so toggling does not rebuild the other flavour.
        export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
        export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${KVMFI_CACHE}/target-fast}
    fi
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${KVMFI_CACHE}/target}
    export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER:-aarch64-linux-gnu-gcc}
    local -a sel=()
    local pkgs=${BENCH_PACKAGES:-}
    if [[ "$pkgs" == all ]]; then
        sel=(--workspace)
    else
        [[ -n "$pkgs" ]] || pkgs=$(default_packages)
        local p
        for p in ${pkgs//,/ }; do sel+=(-p "$p"); done
    fi
    ((${#sel[@]})) || die "no packages selected"
    local out="${KVMFI_CACHE}/userspace/${arch}"
    mkdir -p "$out"
    log "$arch: cargo build --release --target $target --bins ${sel[*]}"
    local msgs="$out/cargo-messages.json"
    : >"$out/failed.list"
    local strict=0
    [[ "${BENCH_STRICT:-0}" == 1 || "${sel[0]}" == --workspace ]] && strict=1
    local -a kg=()
    ((strict)) || kg=(--keep-going)
    if ! cargo_build "$target" "$msgs" "$out/cargo.log" "${kg[@]}" "${sel[@]}"; then
        if ((strict)); then
            cat "$out/cargo.log" >&2
            die "$arch: cargo build failed (log: $out/cargo.log)"
        fi
        # One broken or non-portable crate must not break the bench: with
        # --keep-going cargo built what it could; name the packages that
        # produced none of their binaries.
        local built pkg bin
        built=$(grep -ao '"executable":"[^"]*"' "$msgs" | cut -d'"' -f4 | sed 's|.*/||' | sort -u)
        local -A pkg_ok=() pkg_seen=()
        while read -r pkg bin; do
            pkg_seen[$pkg]=1
            grep -qx "$bin" <<<"$built" && pkg_ok[$pkg]=1
        done < <(package_bins)
        local i
        for ((i = 1; i < ${#sel[@]}; i += 2)); do
            pkg=${sel[i]}
            [[ -n "${pkg_ok[$pkg]:-}" || -z "${pkg_seen[$pkg]:-}" ]] && continue
            [[ "$pkg" != kvmfi-guest-tools ]] ||
                { cat "$out/cargo.log" >&2; die "$arch: kvmfi-guest-tools does not build"; }
            log "$arch: WARNING: package $pkg does not build for $target, skipped (log: $out/cargo.log)"
            printf '%s\n' "$pkg" >>"$out/failed.list"
        done
        [[ -s "$out/failed.list" ]] || { cat "$out/cargo.log" >&2; die "$arch: cargo build failed (log: $out/cargo.log)"; }
    fi
    rm -rf "${out:?}/bin"
    mkdir -p "$out/bin"
    : >"$out/bin.list"
    local exe name
    while IFS= read -r exe; do
        [[ -n "$exe" ]] || continue
        name=$(basename "$exe")
        cp "$exe" "$out/bin/$name"
        if ! file -b "$out/bin/$name" | grep -Eq 'statically linked|static-pie linked'; then
            die "$arch: $name is not static: $(file -b "$out/bin/$name")"
        fi
        printf '%s\n' "$name" >>"$out/bin.list"
    done < <(grep -ao '"executable":"[^"]*"' "$msgs" | cut -d'"' -f4 | sort -u)
    [[ -s "$out/bin.list" ]] || die "$arch: no binaries built"
    log "$arch: $(wc -l <"$out/bin.list") binaries in $out/bin: $(tr '\n' ' ' <"$out/bin.list")($(elapsed "$t0") s)"
}

main "$@"
