#!/usr/bin/env bash
# Build the bench's debug kernel (KASAN, lockdep, kmemleak, the kernel's own
# fault-injection framework) from Debian's linux-source package.
set -o errexit -o nounset -o pipefail

# shellcheck source=bench/lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
LOG_TAG=debug-kernel

usage() {
    cat <<'USAGE'
Usage: bench/debug-kernel.sh [--force] [--print-config] [id]

Builds one small x86_64 kernel (id x86_64-6.1-debug, the default) from
Debian's linux-source-6.1 package: `make allnoconfig` (defconfig with KASAN
takes hours on a busy 2-core machine), then the fragment below
(bench/debug-kernel.sh --print-config shows it): KASAN
(generic, inline), PROVE_LOCKING, DEBUG_KMEMLEAK, DEBUG_ATOMIC_SLEEP,
FAULT_INJECTION with its debugfs knobs (failslab, fail_page_alloc,
fail_make_request, fail_function), KPROBES, ftrace, KVM (AMD: nested SVM
under TCG);
what the scenarios load as image modules is built in (loop, zram,
device-mapper; load_image_module accepts built-ins). Unix sockets but no
IP (the netem and NFS scenarios cannot run), no debug info, no module signing. Built with `nice -n 10 make -j<nproc>`.

Result in ${KVMFI_CACHE}/kernels/<id>/ (the layout of fetch-kernels.sh):
  src/linux-source-6.1/  the built tree (HEADERS_DIR: modules build against it)
  root/lib/modules/<release>/  modules_install output (modules.builtin)
  kernel                 arch/x86/boot/bzImage
  kernel.env             KREL, KVERSION, KARCH, HEADERS_DIR, MODULES_DIR,
                         KERNEL_IMAGE, BUSYBOX, PKGS, BUILD_HASH
The build is skipped when BUILD_HASH (the source package version + the config
fragment) matches the cached one; --force rebuilds (incrementally).
Busybox comes from bench/fetch-kernels.sh (run for x86_64-6.1 when missing).

Environment:
  KVMFI_CACHE   cache root (default /var/cache/kvmfi)
  DEBUG_KERNEL_JOBS  make -j (default: nproc)
USAGE
}

SRC_PKG=linux-source-6.1

# The config fragment, applied with scripts/config after allnoconfig.
# "NAME=y|m|n|value" per line; '#' comments.
fragment() {
    cat <<'CFG'
# identity
LOCALVERSION="-kvmfi-debug"
LOCALVERSION_AUTO=n
# the base the bench boots: serial console, initramfs, /init's file systems
64BIT=y
SMP=y
NR_CPUS=8
PRINTK=y
BUG=y
TTY=y
UNIX98_PTYS=y
SERIAL_8250=y
SERIAL_8250_CONSOLE=y
BLK_DEV_INITRD=y
RD_GZIP=y
KERNEL_GZIP=y
BINFMT_ELF=y
BINFMT_SCRIPT=y
PROC_FS=y
SYSFS=y
DEVTMPFS=y
TMPFS=y
SHMEM=y
MULTIUSER=y
FUTEX=y
EPOLL=y
SIGNALFD=y
TIMERFD=y
EVENTFD=y
AIO=y
FILE_LOCKING=y
POSIX_TIMERS=y
HIGH_RES_TIMERS=y
# Unix sockets: Rust's std::process::Command spawns through an AF_UNIX
# SOCK_SEQPACKET pair on Linux (without them: ENOSYS, no lease helper)
NET=y
UNIX=y
# ACPI loads QEMU's DSDT (and powers off) only with PCI: without it
# "ACPI Error: AE_BAD_PARAMETER, During Region initialization"
PCI=y
ACPI=y
# modules and probes
MODULES=y
MODULE_UNLOAD=y
MODULE_FORCE_UNLOAD=y
MODULE_SIG=n
KALLSYMS=y
KALLSYMS_ALL=y
IKCONFIG=y
IKCONFIG_PROC=y
PERF_EVENTS=y
KPROBES=y
KRETPROBES=y
FTRACE=y
FUNCTION_TRACER=y
DYNAMIC_FTRACE=y
KPROBE_EVENTS=y
DEBUG_FS=y
DEBUG_KERNEL=y
DEBUG_INFO_NONE=y
# the kernel's own fault-injection framework
FAULT_INJECTION=y
FAULT_INJECTION_DEBUG_FS=y
FAILSLAB=y
FAIL_PAGE_ALLOC=y
FAIL_MAKE_REQUEST=y
FUNCTION_ERROR_INJECTION=y
FAIL_FUNCTION=y
# sanitizers and lock checking
KASAN=y
KASAN_GENERIC=y
KASAN_INLINE=y
PROVE_LOCKING=y
LOCKDEP_BITS=16
LOCKDEP_CHAINS_BITS=17
DEBUG_ATOMIC_SLEEP=y
DEBUG_KMEMLEAK=y
DEBUG_KMEMLEAK_DEFAULT_OFF=n
DEBUG_KMEMLEAK_AUTO_SCAN=n
DEBUG_KMEMLEAK_MEM_POOL_SIZE=16000
# KVM (nested SVM under TCG -cpu max; kvm_intel refuses under TCG), built in
VIRTUALIZATION=y
KVM=y
KVM_INTEL=n
KVM_AMD=y
# what the scenarios use: cgroups, memory cgroup, swap on zram, loop,
# device-mapper targets, ext2 (busybox mke2fs) and ext4 (23-disk-fi)
CGROUPS=y
MEMCG=y
SWAP=y
CRYPTO=y
CRYPTO_LZO=y
ZSMALLOC=y
ZRAM=y
BLOCK=y
BLK_DEV=y
BLK_DEV_LOOP=y
BLK_DEV_NULL_BLK=y
MD=y
BLK_DEV_DM=y
DM_FLAKEY=y
DM_DELAY=y
DM_DUST=y
DM_ZERO=y
EXT2_FS=y
EXT4_FS=y
CRYPTO_CRC32C=y
# io.max (22-io-slow)
BLK_CGROUP=y
BLK_DEV_THROTTLING=y
CFG
}

# apply_fragment TREE: scripts/config for every line of the fragment.
apply_fragment() {
    local tree=$1 line name val
    local -a args=()
    while IFS= read -r line; do
        [[ -z "$line" || "$line" == \#* ]] && continue
        name=${line%%=*}
        val=${line#*=}
        case "$val" in
            y) args+=(--enable "$name") ;;
            m) args+=(--module "$name") ;;
            n) args+=(--disable "$name") ;;
            \"*) val=${val#\"}; args+=(--set-str "$name" "${val%\"}") ;;
            *) args+=(--set-val "$name" "$val") ;;
        esac
    done < <(fragment)
    (cd "$tree" && ./scripts/config --file .config "${args[@]}")
}

# check_config TREE: the options that matter must have survived olddefconfig.
check_config() {
    local tree=$1 o missing=()
    for o in KPROBES KRETPROBES KALLSYMS_ALL MODULES FAULT_INJECTION FAULT_INJECTION_DEBUG_FS \
        FAILSLAB FAIL_PAGE_ALLOC FAIL_MAKE_REQUEST FUNCTION_ERROR_INJECTION FAIL_FUNCTION \
        KASAN KASAN_INLINE PROVE_LOCKING DEBUG_KMEMLEAK DEBUG_ATOMIC_SLEEP DEBUG_FS KVM KVM_AMD \
        MEMCG BLK_DEV_LOOP ZRAM BLK_DEV_DM DM_FLAKEY DM_DELAY DM_DUST EXT2_FS EXT4_FS BLK_DEV_THROTTLING SERIAL_8250_CONSOLE \
        KPROBE_EVENTS FUNCTION_TRACER ACPI PCI UNIX; do
        grep -Eq "^CONFIG_${o}=(y|m)$" "$tree/.config" || missing+=("$o")
    done
    ((${#missing[@]} == 0)) || die "options lost by olddefconfig (unmet dependencies): ${missing[*]}"
    if grep -Eq '^CONFIG_(DEBUG_INFO_DWARF[45]|DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT|MODULE_SIG)=y' "$tree/.config"; then
        die "debug info or module signing still enabled"
    fi
}

# source_deb DIR: the linux-source .deb (downloaded, never installed) in DIR;
# prints its path.
source_deb() {
    local dir=$1 deb
    mkdir -p "$dir"
    deb=$(find "$dir" -maxdepth 1 -name "${SRC_PKG}_*_all.deb" | sort -V | tail -n 1)
    if [[ -z "$deb" ]]; then
        log "apt-get download $SRC_PKG"
        (cd "$dir" && apt-get -q download "$SRC_PKG" </dev/null >&2) || die "apt-get download $SRC_PKG failed"
        deb=$(find "$dir" -maxdepth 1 -name "${SRC_PKG}_*_all.deb" | sort -V | tail -n 1)
    fi
    [[ -n "$deb" ]] || die "no ${SRC_PKG} package in $dir"
    printf '%s\n' "$deb"
}

build() {
    local id=$1 force=$2 t0 kdir="${KVMFI_CACHE}/kernels/$1"
    t0=$(now_s)
    kid_parse "$id"
    [[ "$KID_ARCH" == x86_64 && "$KID_SERIES" == 6.1 && "$KID_DEBUG" == 1 ]] ||
        die "$id: only x86_64-6.1-debug is a debug kernel"
    local deb ver hash
    deb=$(source_deb "${KVMFI_CACHE}/src")
    ver=$(dpkg-deb -f "$deb" Version)
    hash=$( { echo "$SRC_PKG $ver"; fragment; } | sha256sum | cut -c1-16)
    if [[ "$force" == 0 && -f "$kdir/kernel.env" && -f "$kdir/kernel" ]] &&
        grep -qx "BUILD_HASH='$hash'" "$kdir/kernel.env"; then
        log "$id: cached ($SRC_PKG $ver, config $hash)"
        ensure_busybox
        return 0
    fi
    local src="$kdir/src" tree="$kdir/src/linux-source-6.1"
    if [[ ! -f "$src/.version" || "$(cat "$src/.version")" != "$ver" ]]; then
        log "$id: unpacking $SRC_PKG $ver"
        rm -rf "$src"
        mkdir -p "$src"
        dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$src" --wildcards --strip-components=3 \
            './usr/src/linux-source-6.1.tar.xz'
        tar -xJf "$src/linux-source-6.1.tar.xz" -C "$src"
        rm -f "$src/linux-source-6.1.tar.xz"
        [[ -f "$tree/Makefile" ]] || die "$id: no $tree/Makefile after unpacking"
        echo "$ver" >"$src/.version"
    fi
    local -a mk=(nice -n 10 make -C "$tree" -j"${DEBUG_KERNEL_JOBS:-$(nproc)}" ARCH=x86)
    log "$id: configuring (allnoconfig + fragment $hash)"
    "${mk[@]}" -s allnoconfig >/dev/null
    apply_fragment "$tree"
    "${mk[@]}" -s olddefconfig >/dev/null
    # A second pass: options whose dependencies the first pass enabled.
    apply_fragment "$tree"
    "${mk[@]}" -s olddefconfig >/dev/null
    check_config "$tree"
    local blog="$kdir/build.log" tb
    tb=$(now_s)
    log "$id: building (log $blog)"
    if ! "${mk[@]}" bzImage modules >"$blog" 2>&1; then
        tail -n 40 "$blog" >&2
        die "$id: kernel build failed (log: $blog)"
    fi
    local krel
    krel=$("${mk[@]}" -s kernelrelease)
    rm -rf "$kdir/root"
    mkdir -p "$kdir/root"
    "${mk[@]}" -s INSTALL_MOD_PATH="$kdir/root" INSTALL_MOD_STRIP=1 DEPMOD=/bin/true \
        modules_install >>"$blog" 2>&1 || die "$id: modules_install failed (log: $blog)"
    mkdir -p "$kdir/root/lib/modules/$krel/kernel"
    # The tree is the module build dir: drop the links modules_install made.
    rm -f "$kdir/root/lib/modules/$krel/build" "$kdir/root/lib/modules/$krel/source"
    cp "$tree/arch/x86/boot/bzImage" "$kdir/kernel"
    cat >"$kdir/kernel.env" <<ENV
KID='$id'
KREL='$krel'
KVERSION='$ver'
KARCH='$KID_KARCH'
HEADERS_DIR='$tree'
MODULES_DIR='$kdir/root/lib/modules/$krel'
KERNEL_IMAGE='$kdir/kernel'
BUSYBOX='${KVMFI_CACHE}/busybox/${KID_DEBARCH}/busybox'
PKGS='${SRC_PKG}=$ver'
BUILD_HASH='$hash'
ENV
    log "$id: built $krel in $(elapsed "$tb") s (bzImage $(du -h "$kdir/kernel" | cut -f1)), total $(elapsed "$t0") s"
    ensure_busybox
}

# ensure_busybox: the static busybox comes with the x86_64-6.1 fetch.
ensure_busybox() {
    [[ -x "${KVMFI_CACHE}/busybox/amd64/busybox" ]] && return 0
    "$BENCH_DIR/fetch-kernels.sh" x86_64-6.1
}

main() {
    local force=0 id=x86_64-6.1-debug
    while (($#)); do
        case "$1" in
            -h | --help) usage; return 0 ;;
            --force) force=1 ;;
            --print-config) fragment; return 0 ;;
            -*) usage >&2; return 2 ;;
            *) id=$1 ;;
        esac
        shift
    done
    bench_lock
    build "$id" "$force"
}

main "$@"
