#!/usr/bin/env bash
# Download (never install) Debian kernels for the kvmfi VM bench.
set -o errexit -o nounset -o pipefail

# shellcheck source=bench/lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
LOG_TAG=fetch

usage() {
    cat <<'USAGE'
Usage: bench/fetch-kernels.sh [--refresh] [ids...]

Downloads the Debian kernel image, headers, common headers and linux-kbuild
(host arch) for each kernel id with a private apt configuration (never touches
/etc/apt, never installs), unpacks them with dpkg -x and prepares them to boot.
Ids: x86_64-5.10 x86_64-6.1 x86_64-6.12 x86_64-7.3 and the same for arm64
(5.10 = bullseye-security, or bullseye when the security suite's debs are
missing on the mirror; 6.1 = bookworm; 6.12 = bookworm-backports; 7.3 =
trixie-backports); default: the four 6.x ids. x86_64-6.1-debug is built from
source by bench/debug-kernel.sh instead.

Packaging: up to 6.12 the kernel and its modules are in linux-image-<rel>
(/boot, /lib/modules); from 7.x linux-image-<rel> is an empty meta package
and the kernel is in linux-binary-<rel>, the modules in linux-modules-<rel>
and the config in linux-base-<rel>, all under /usr/lib/modules/<rel>/.

Result per id in ${KVMFI_CACHE:-/var/cache/kvmfi}/kernels/<id>/:
  root/          the unpacked packages (root/lib/modules/<release>/ = image modules)
  kernel         bootable kernel: x86_64 = uncompressed vmlinux (PVH boot),
                 arm64 = raw Image
  kernel.env     shell vars: KREL, KVERSION, KARCH, HEADERS_DIR, MODULES_DIR,
                 KERNEL_IMAGE, BUSYBOX, PKGS
Also ${KVMFI_CACHE}/busybox/<debarch>/busybox (static busybox of that arch).

A cached id is reused without network access; --refresh re-resolves the ABI
version on the mirror and re-downloads when it changed.

Environment:
  KVMFI_CACHE            cache root (default /var/cache/kvmfi)
  KVMFI_DEBIAN_MIRROR    Debian mirror (default http://deb.debian.org/debian)
  KVMFI_DEBIAN_SECURITY  security mirror (default http://deb.debian.org/debian-security)
USAGE
}

APT_DIR="${KVMFI_CACHE}/apt"
APT_UPDATED=0

apt_setup() {
    local mirror=${KVMFI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
    local security=${KVMFI_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [[ -r "$keyring" ]] || die "missing $keyring (apt-get install debian-archive-keyring)"
    mkdir -p "$APT_DIR"/{lists/partial,cache/archives/partial,state,parts,prefs,sources.d,debs}
    : >"$APT_DIR/status.empty"
    cat >"$APT_DIR/sources.list" <<SRC
deb [signed-by=$keyring] $mirror bullseye main
deb [signed-by=$keyring] $security bullseye-security main
deb [signed-by=$keyring] $mirror bookworm main
deb [signed-by=$keyring] $mirror bookworm-updates main
deb [signed-by=$keyring] $mirror bookworm-backports main
deb [signed-by=$keyring] $security bookworm-security main
deb [signed-by=$keyring] $mirror trixie main
deb [signed-by=$keyring] $mirror trixie-backports main
SRC
    # APT_CONFIG is read before Dir::Etc::Parts, so the host's apt.conf.d
    # (with its post-invoke hooks) is not used either. Default-Release: what
    # is fetched by name alone (busybox, QEMU and its libraries) comes from
    # bookworm, as on a machine whose cache predates the bullseye and trixie
    # lines; the kernels name their suite and version.
    cat >"$APT_DIR/apt.conf" <<CONF
Dir::Etc::Main "/dev/null";
Dir::Etc::Parts "$APT_DIR/parts";
Dir::Etc::SourceList "$APT_DIR/sources.list";
Dir::Etc::SourceParts "$APT_DIR/sources.d";
Dir::Etc::Preferences "/dev/null";
Dir::Etc::PreferencesParts "$APT_DIR/prefs";
Dir::State "$APT_DIR/state";
Dir::State::Lists "$APT_DIR/lists";
Dir::State::status "$APT_DIR/status.empty";
Dir::Cache "$APT_DIR/cache";
Dir::Cache::archives "$APT_DIR/cache/archives";
APT::Architecture "amd64";
APT::Architectures { "amd64"; "arm64"; };
Acquire::Languages "none";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
Debug::NoLocking "true";
APT::Default-Release "bookworm";
CONF
    export APT_CONFIG="$APT_DIR/apt.conf"
}

apt_update() {
    ((APT_UPDATED)) && return 0
    log "apt-get update (private lists in $APT_DIR)"
    apt-get -q update </dev/null >"$APT_DIR/update.log" 2>&1 ||
        { cat "$APT_DIR/update.log" >&2; die "apt-get update failed"; }
    APT_UPDATED=1
}

# candidate_version PKG SUITE: the version apt would pick from SUITE.
candidate_version() {
    local pkg=$1 suite=$2 out
    out=$(apt-cache -o APT::Default-Release="$suite" policy "$pkg" 2>/dev/null) || true
    awk '/Candidate:/ { print $2; exit }' <<<"$out"
}

# dep_of PKG=VER REGEX: first Depends: of that exact version matching REGEX.
dep_of() {
    local pkgver=$1 re=$2 out
    out=$(apt-cache show "$pkgver" 2>/dev/null) || true
    awk '/^Depends:/ { sub(/^Depends: /, ""); print; exit }' <<<"$out" |
        tr ',' '\n' | sed -e 's/^ *//' -e 's/ .*//' -e 's/:.*//' |
        awk -v re="$re" '$0 ~ re { print; exit }'
}

apt_download() { # name=version[:arch] ... into $1
    local dir=$1
    shift
    (cd "$dir" && apt-get -q download "$@" </dev/null >"$APT_DIR/download.log" 2>&1) ||
        { cat "$APT_DIR/download.log" >&2; die "apt-get download $* failed"; }
}

# resolve ID SUITE: sets R_IMG R_HDR R_COMMON R_KBUILD (package names),
# R_SPLIT (7.x: the linux-binary/modules/base packages the empty
# linux-image-<rel> depends on), R_VER, R_KREL, R_SUITE.
resolve() {
    local id=$1 suite=$2 meta ver
    kid_parse "$id"
    meta="linux-image-${KID_DEBARCH}"
    if [[ "$KID_DEBARCH" != amd64 ]]; then meta="${meta}:${KID_DEBARCH}"; fi
    ver=$(candidate_version "$meta" "$suite")
    [[ -n "$ver" && "$ver" != "(none)" ]] || { log "$id: no candidate for $meta in $suite"; return 1; }
    R_IMG=$(dep_of "${meta}=${ver}" '^linux-image-[0-9]')
    [[ -n "$R_IMG" ]] || { log "$id: cannot resolve the image package of $meta=$ver"; return 1; }
    case "$R_IMG" in
        "linux-image-${KID_SERIES}."*) ;;
        *) log "$id: $meta in $suite resolves to $R_IMG, not series $KID_SERIES"; return 1 ;;
    esac
    R_SUITE=$suite
    R_KREL=${R_IMG#linux-image-}
    R_VER=$(candidate_version "${R_IMG}:${KID_DEBARCH}" "$suite")
    R_HDR="linux-headers-${R_KREL}"
    R_COMMON=$(dep_of "${R_HDR}:${KID_DEBARCH}=${R_VER}" '^linux-headers-.*-common')
    R_KBUILD=$(dep_of "${R_HDR}:${KID_DEBARCH}=${R_VER}" '^linux-kbuild-')
    [[ -n "$R_COMMON" && -n "$R_KBUILD" ]] ||
        { log "$id: cannot resolve common headers / kbuild of $R_HDR=$R_VER"; return 1; }
    R_SPLIT=()
    local p
    for p in binary modules base; do
        p=$(dep_of "${R_IMG}:${KID_DEBARCH}=${R_VER}" "^linux-${p}-${KID_SERIES}")
        [[ -n "$p" ]] && R_SPLIT+=("${p}:${KID_DEBARCH}=${R_VER}")
    done
    return 0
}

# extract_vmlinux BZIMAGE OUT: like scripts/extract-vmlinux.
extract_vmlinux() {
    local in=$1 out=$2 tmp="$2.tmp" magic cmd off
    # magic (grep -P byte pattern) | decompressor
    local -a tries=(
        '\x1f\x8b\x08|gunzip'
        '\xfd7zXZ\x00|unxz'
        '\x28\xb5\x2f\xfd|zstd -dq'
        'BZh|bunzip2'
        '\x5d\x00\x00\x00|unlzma'
        '\x02\x21\x4c\x18|lz4 -dq'
        '\x89LZO|lzop -dq'
    )
    local t
    for t in "${tries[@]}"; do
        magic=${t%%|*}
        cmd=${t#*|}
        command -v "${cmd%% *}" >/dev/null 2>&1 || continue
        for off in $(LC_ALL=C grep -aboP "$magic" "$in" | cut -d: -f1 | head -n 20); do
            tail -c "+$((off + 1))" "$in" | $cmd >"$tmp" 2>/dev/null || true
            if file -b "$tmp" 2>/dev/null | grep -q '^ELF 64-bit'; then
                mv "$tmp" "$out"
                return 0
            fi
        done
    done
    rm -f "$tmp"
    return 1
}

# prepare_arm64_image VMLINUZ OUT
prepare_arm64_image() {
    local in=$1 out=$2
    case "$(file -b "$in")" in
        *gzip*) gunzip -c "$in" >"$out" ;;
        *"ARM64 boot executable"* | *"Linux kernel ARM64"*) cp "$in" "$out" ;;
        *)
            # EFI zboot: "MZ" + "zimg" at 4, payload offset/size at 8/12, type at 24.
            if [[ "$(dd if="$in" bs=1 skip=4 count=4 2>/dev/null)" == zimg ]]; then
                local po ps ty
                po=$(od -An -tu4 -j8 -N4 "$in" | tr -d ' ')
                ps=$(od -An -tu4 -j12 -N4 "$in" | tr -d ' ')
                ty=$(dd if="$in" bs=1 skip=24 count=8 2>/dev/null | tr -d '\0')
                tail -c "+$((po + 1))" "$in" | head -c "$ps" >"$out.z"
                case "$ty" in
                    gzip) gunzip -c "$out.z" >"$out" ;;
                    zstd*) zstd -dc "$out.z" >"$out" ;;
                    xz*) xz -dc "$out.z" >"$out" ;;
                    *) die "unknown zboot compression '$ty'" ;;
                esac
                rm -f "$out.z"
            else
                die "unknown arm64 kernel image format: $(file -b "$in")"
            fi
            ;;
    esac
    file -b "$out" | grep -q 'ARM64' || die "prepared arm64 image is not an ARM64 Image: $(file -b "$out")"
}

fetch_busybox() {
    local debarch=$1 dir="${KVMFI_CACHE}/busybox/$1"
    [[ -x "$dir/busybox" ]] && return 0
    apt_setup
    apt_update
    mkdir -p "$dir/deb"
    rm -f "$dir"/deb/*.deb
    apt_download "$dir/deb" "busybox-static:${debarch}"
    dpkg -x "$dir"/deb/busybox-static_*.deb "$dir/root"
    local bin
    for bin in "$dir/root/bin/busybox" "$dir/root/usr/bin/busybox" ""; do
        [[ -x "$bin" ]] && break
    done
    [[ -n "$bin" ]] || die "busybox-static ($debarch) has no bin/busybox or usr/bin/busybox"
    cp "$bin" "$dir/busybox"
    log "busybox ($debarch): $(file -b "$dir/busybox" | cut -d, -f1-2)"
}

fetch_one() {
    local id=$1 refresh=$2 kdir="${KVMFI_CACHE}/kernels/$1" t0
    kid_parse "$id"
    if [[ "$KID_DEBUG" == 1 ]]; then # built from source, cached by its config hash
        "$BENCH_DIR/debug-kernel.sh" "$id"
        return 0
    fi
    t0=$(now_s)
    if [[ -f "$kdir/kernel.env" && "$refresh" == 0 ]]; then
        fetch_busybox "$KID_DEBARCH"
        # shellcheck disable=SC1091
        (source "$kdir/kernel.env" && log "$id: cached $KREL ($KVERSION)")
        return 0
    fi
    apt_setup
    apt_update
    # The first suite that resolves and whose debs download (the security
    # suite's arm64 debs were missing on the mirror once).
    local suite ok=0
    rm -rf "$kdir.new"
    for suite in $KID_SUITES; do
        resolve "$id" "$suite" || continue
        log "$id: resolved $R_IMG $R_VER in $R_SUITE (headers $R_HDR, $R_COMMON, ${R_KBUILD}:amd64${R_SPLIT[*]:+, ${R_SPLIT[*]%%=*}})"
        if [[ -f "$kdir/kernel.env" ]] && grep -qx "KVERSION='$R_VER'" "$kdir/kernel.env" &&
            grep -qx "KREL='$R_KREL'" "$kdir/kernel.env"; then
            log "$id: cache is up to date"
            fetch_busybox "$KID_DEBARCH"
            return 0
        fi
        mkdir -p "$kdir.new/debs"
        if (apt_download "$kdir.new/debs" \
            "${R_IMG}:${KID_DEBARCH}=${R_VER}" "${R_HDR}:${KID_DEBARCH}=${R_VER}" \
            "${R_COMMON}=${R_VER}" "${R_KBUILD}:amd64=${R_VER}" "${R_SPLIT[@]}"); then
            ok=1
            break
        fi
        log "$id: the debs of $R_VER in $suite do not download; trying the next suite"
        rm -rf "$kdir.new"
    done
    ((ok)) || die "$id: no suite of '$KID_SUITES' gave a kernel to download"
    log "$id: downloaded $(du -sh "$kdir.new/debs" | cut -f1) in $(elapsed "$t0") s"
    local deb
    for deb in "$kdir.new"/debs/*.deb; do
        dpkg -x "$deb" "$kdir.new/root"
    done
    local root="$kdir.new/root" hdr
    hdr="$root/usr/src/linux-headers-${R_KREL}"
    [[ -f "$hdr/Makefile" ]] || die "$id: no headers Makefile in $hdr"
    # The arch headers Makefile includes the -common dir by absolute path
    # (include /usr/src/linux-headers-<abi>-common/Makefile): point it into root/.
    sed -i -E "s#(^|[[:space:]=:])/usr/src/(linux-headers-|linux-kbuild-)#\1${kdir}/root/usr/src/\2#g" \
        "$hdr/Makefile"
    # 7.x: everything under /usr/lib/modules/<rel> (the kernel as vmlinuz)
    local kern="$root/boot/vmlinuz-${R_KREL}" moddir="$root/lib/modules/${R_KREL}" mods="lib/modules"
    if [[ ! -f "$kern" && -f "$root/usr/lib/modules/${R_KREL}/vmlinuz" ]]; then
        kern="$root/usr/lib/modules/${R_KREL}/vmlinuz"
        moddir="$root/usr/lib/modules/${R_KREL}" mods="usr/lib/modules"
    fi
    [[ -f "$kern" ]] || die "$id: missing $kern"
    if [[ "$KID_ARCH" == x86_64 ]]; then
        extract_vmlinux "$kern" "$kdir.new/kernel" || die "$id: cannot extract vmlinux from $kern"
    else
        prepare_arm64_image "$kern" "$kdir.new/kernel"
    fi
    [[ -d "$moddir/kernel" ]] || die "$id: no /$mods/${R_KREL}/kernel in the image"
    cat >"$kdir.new/kernel.env" <<ENV
KID='$id'
KREL='$R_KREL'
KVERSION='$R_VER'
KARCH='$KID_KARCH'
HEADERS_DIR='${kdir}/root/usr/src/linux-headers-${R_KREL}'
MODULES_DIR='${kdir}/root/${mods}/${R_KREL}'
KERNEL_IMAGE='${kdir}/kernel'
BUSYBOX='${KVMFI_CACHE}/busybox/${KID_DEBARCH}/busybox'
PKGS='${R_IMG} ${R_HDR} ${R_COMMON} ${R_KBUILD}:amd64${R_SPLIT[*]:+ ${R_SPLIT[*]%%=*}}'
SUITE='${R_SUITE}'
ENV
    rm -rf "$kdir"
    mv "$kdir.new" "$kdir"
    fetch_busybox "$KID_DEBARCH"
    log "$id: ready $R_KREL ($R_VER), kernel $(file -b "$kdir/kernel" | cut -d, -f1), $(elapsed "$t0") s"
}

main() {
    local refresh=0 ids=()
    while (($#)); do
        case "$1" in
            -h | --help) usage; return 0 ;;
            --refresh) refresh=1 ;;
            -*) usage >&2; return 2 ;;
            *) ids+=("$1") ;;
        esac
        shift
    done
    ((${#ids[@]})) || ids=("${DEFAULT_KERNEL_IDS[@]}")
    local id
    for id in "${ids[@]}"; do
        kid_parse "$id"
    done
    bench_lock
    for id in "${ids[@]}"; do
        fetch_one "$id" "$refresh"
    done
}

# fetch-qemu.sh sources this file for its apt helpers.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
