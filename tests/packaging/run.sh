#!/usr/bin/env bash
# kvmfi packaging proof (issue 7): `make install` into a fresh root, and the
# Debian package in a clean Debian bookworm chroot with DKMS: install, build
# for a kernel whose headers get installed, rebuild on a kernel upgrade,
# man page, removal. Prints "RESULT PASS|FAIL <name> [reason]" lines and a
# closing "N passed, N failed" line; exits non-zero on any failure.
set -o errexit -o nounset -o pipefail

usage() {
    cat <<'USAGE'
Usage: tests/packaging/run.sh [--deb FILE] [--keep] [--prepare]
  --deb FILE   test this package instead of building one with `make deb`
  --keep       keep the run's chroot (overlay upper dir) for inspection
  --prepare    only create the cached base chroot (debootstrap), then exit
Environment:
  KVMFI_CACHE           cache root (default /var/cache/kvmfi)
  KVMFI_CHROOT_CACHE    chroot cache (default $KVMFI_CACHE/chroot): the debootstrap'ed
                        base (reused read-only through an overlay) and apt's .deb cache
  KVMFI_DEBIAN_MIRROR   Debian mirror (default http://deb.debian.org/debian)
  KVMFI_DEBIAN_SECURITY security mirror (default http://deb.debian.org/debian-security)
  CARGO_TARGET_DIR      where `make deb` finds the release binaries
USAGE
}

# shellcheck source=bench/lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../bench/lib-common.sh"
LOG_TAG=packaging
REPO=$REPO_DIR
MIRROR=${KVMFI_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${KVMFI_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
CHROOT_CACHE=${KVMFI_CHROOT_CACHE:-$KVMFI_CACHE/chroot}
BASE="$CHROOT_CACHE/bookworm"
ARCHIVES="$CHROOT_CACHE/archives"
RUN_DIR=""
ROOT=""
LOGFILE="$CHROOT_CACHE/last-run.log"
MOUNTS=()
KEEP=0
PASS=0
FAIL=0
T0=$(now_s)

pass() { echo "RESULT PASS $1${2:+ $2}"; PASS=$((PASS + 1)); }
fail() { echo "RESULT FAIL $1${2:+ $2}"; FAIL=$((FAIL + 1)); }
check() { # check NAME REASON-IF-FAILED CMD...
    local name=$1 why=$2
    shift 2
    if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

# --- chroot plumbing ---------------------------------------------------------

cleanup() {
    local i
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
    MOUNTS=()
    if [[ "$RUN_DIR" == "$CHROOT_CACHE"/run.* && -d "$RUN_DIR" && $KEEP -eq 0 ]]; then
        rm -rf "$RUN_DIR"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_at() { # mount_at TARGET mount-args...
    local target=$1
    shift
    mkdir -p "$target"
    mount "$@" "$target"
    MOUNTS+=("$target")
}

# in_chroot CMD...: runs a shell command line in the chroot, output to the log.
in_chroot() {
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive TERM=dumb /bin/sh -c "$*" >>"$LOGFILE" 2>&1
}
# in_chroot_out CMD...: same, stdout returned.
in_chroot_out() {
    chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive TERM=dumb /bin/sh -c "$*" 2>>"$LOGFILE"
}

# The cached base: debootstrap --variant=minbase bookworm, apt sources
# (bookworm, -updates, -security, -backports), man-db (a real system has it).
make_base() {
    [[ -f "$BASE/.kvmfi-base-ready" ]] && return 0
    command -v debootstrap >/dev/null 2>&1 ||
        { log "apt-get install debootstrap"; apt-get install -y -q debootstrap </dev/null >&2 ||
            { apt-get update -q </dev/null >&2 && apt-get install -y -q debootstrap </dev/null >&2; }; }
    local t0 tmp="$BASE.tmp"
    t0=$(now_s)
    rm -rf "$tmp"
    mkdir -p "$CHROOT_CACHE" "$ARCHIVES/partial"
    log "debootstrap --variant=minbase bookworm $tmp $MIRROR"
    debootstrap --variant=minbase --cache-dir="$ARCHIVES" bookworm "$tmp" "$MIRROR" \
        >"$CHROOT_CACHE/debootstrap.log" 2>&1 ||
        { tail -n 20 "$CHROOT_CACHE/debootstrap.log" >&2; die "debootstrap failed"; }
    cat >"$tmp/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $MIRROR bookworm-backports main
deb $SECURITY bookworm-security main
SRC
    cat >"$tmp/etc/apt/apt.conf.d/99kvmfi-test" <<'CONF'
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
APT::Keep-Downloaded-Packages "true";
CONF
    printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
    chmod 0755 "$tmp/usr/sbin/policy-rc.d"
    ROOT=$tmp
    mount_at "$tmp/proc" -t proc proc
    mount_at "$tmp/var/cache/apt/archives" --bind "$ARCHIVES"
    cp /etc/resolv.conf "$tmp/etc/resolv.conf" 2>/dev/null || true
    in_chroot "apt-get -q update && apt-get install -y -q --no-install-recommends man-db" ||
        { tail -n 20 "$LOGFILE" >&2; die "base chroot: apt-get install man-db failed"; }
    cleanup
    ROOT=""
    touch "$tmp/.kvmfi-base-ready"
    rm -rf "$BASE"
    mv "$tmp" "$BASE"
    log "base chroot ready in $(elapsed "$t0") s"
}

# A throw-away root for this run: an overlay on the cached base (a copy where
# overlayfs is not available), with /proc and apt's cache mounted.
enter_run_root() {
    RUN_DIR=$(mktemp -d "$CHROOT_CACHE/run.XXXXXX")
    ROOT="$RUN_DIR/root"
    mkdir -p "$RUN_DIR"/{upper,work} "$ROOT"
    if ! mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$RUN_DIR/upper,workdir=$RUN_DIR/work" "$ROOT" 2>/dev/null; then
        log "overlayfs unavailable; copying the base chroot"
        cp -a "$BASE/." "$ROOT/"
    else
        MOUNTS+=("$ROOT")
    fi
    mount_at "$ROOT/proc" -t proc proc
    mount_at "$ROOT/var/cache/apt/archives" --bind "$ARCHIVES"
    cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
}

# --- tests -------------------------------------------------------------------

# make install into a fresh root (DESTDIR): binaries, man pages, completions,
# DKMS source tree; then make uninstall leaves no file behind.
test_make_install() {
    local dest="$RUN_DIR/destdir" rc=0
    mkdir -p "$dest"
    make -C "$REPO" --no-print-directory install DESTDIR="$dest" >"$RUN_DIR/make-install.log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        fail make-install-destdir "make install exited $rc: $(tail -n 3 "$RUN_DIR/make-install.log" | tr '\n' ' ')"
        return
    fi
    local p=$dest/usr/local missing=()
    local f
    for f in bin/vfs-read-fi bin/kvmfi-check bin/file-read-fi-main share/man/man8/vfs-read-fi.8 \
        share/bash-completion/completions/vfs-read-fi.bash share/zsh/site-functions/_vfs-read-fi \
        share/fish/vendor_completions.d/vfs-read-fi.fish bin/cluster_manage.sh; do
        [[ -e "$p/$f" ]] || missing+=("$f")
    done
    [[ -e "$dest/etc/kvmfi/cluster.conf" ]] || missing+=(/etc/kvmfi/cluster.conf)
    if ((${#missing[@]})); then
        fail make-install-destdir "missing: ${missing[*]}"
    else
        pass make-install-destdir
    fi
    check make-install-man "man -M $p/share/man vfs-read-fi did not render" \
        sh -c "MANPAGER=cat man -M '$p/share/man' vfs-read-fi 2>/dev/null | grep -q 'vfs-read-fi'"
    check make-install-bash-completion "bash completion did not register" \
        bash -c "source '$p/share/bash-completion/completions/vfs-read-fi.bash' && complete -p vfs-read-fi >/dev/null"
    make -C "$REPO" --no-print-directory uninstall DESTDIR="$dest" >>"$RUN_DIR/make-install.log" 2>&1 || rc=$?
    local left
    left=$(find "$dest" -mindepth 1 \( -type f -o -type l \) | sed "s#^$dest##" | head -n 5 | tr '\n' ' ')
    if [[ $rc -ne 0 ]]; then
        fail make-uninstall-destdir "make uninstall exited $rc"
    elif [[ -n "$left" ]]; then
        fail make-uninstall-destdir "left behind: $left"
    else
        pass make-uninstall-destdir
    fi
}

# test_make_install_dkms VERSION KREL: `make install` without DESTDIR where
# dkms is installed (in the chroot, from a copy of the tree with the binaries
# and completions already built): the source goes to /usr/src/kvmfi-VERSION,
# dkms adds it and builds it for KREL; `make uninstall` removes it all.
test_make_install_dkms() {
    local version=$1 krel=$2 src="$ROOT/tmp/src" b t
    t=$(now_s)
    mkdir -p "$src/release" "$src/target" "$src/bins"
    cp "$REPO/Makefile" "$REPO/Cargo.toml" "$REPO/cluster_manage.sh" "$REPO/cluster.conf" "$src/"
    cp -a "$REPO/kmod" "$REPO/man" "$src/"
    cp -a "$REPO/target/completions" "$src/target/"
    for b in "$REPO"/bins/*/; do
        b=$(basename "$b")
        mkdir -p "$src/bins/$b"
        cp "${CARGO_TARGET_DIR:-$REPO/target}/release/$b" "$src/release/" 2>/dev/null || true
    done
    # Not the tree's own built objects: dkms builds from the copied source.
    find "$src/kmod" \( -name '*.o' -o -name '*.ko' -o -name '*.mod*' -o -name '.*.cmd' \) -delete
    local mk="make -C /tmp/src --no-print-directory CARGO=true RELEASE=/tmp/src/release KREL=$krel"
    if ! in_chroot "$mk install"; then
        fail make-install-dkms "make install exited non-zero: $(tail -n 3 "$LOGFILE" | tr '\n' ' ')"
        return
    fi
    local n state
    n=$(ko_count "$krel")
    state=$(dkms_state "$krel")
    if [[ "$state" == installed && $n -eq ${#MODULE_NAMES[@]} && -f "$ROOT/usr/src/kvmfi-$version/dkms.conf" ]] &&
        in_chroot "MANPAGER=cat man vfs-read-fi | grep -q vfs-read-fi && vfs-read-fi --help >/dev/null"; then
        pass make-install-dkms "dkms $state for $krel, $n modules, /usr/local/bin + man, $(elapsed "$t") s"
    else
        fail make-install-dkms "dkms state '$state', $n/${#MODULE_NAMES[@]} modules for $krel"
    fi
    if ! in_chroot "$mk uninstall"; then
        fail make-uninstall-dkms "make uninstall exited non-zero: $(tail -n 3 "$LOGFILE" | tr '\n' ' ')"
        return
    fi
    local left=""
    [[ $(ko_count "$krel") -eq 0 ]] || left+=" $krel:$(ko_count "$krel") modules"
    [[ ! -e "$ROOT/usr/src/kvmfi-$version" ]] || left+=" /usr/src/kvmfi-$version"
    [[ ! -e "$ROOT/var/lib/dkms/kvmfi" ]] || left+=" /var/lib/dkms/kvmfi"
    # Whatever the base system has there (/usr/local/man -> share/man) is not ours.
    left+=$(cd "$ROOT/usr/local" && find . \( -type f -o -type l \) | while read -r f; do
        [[ -e "$BASE/usr/local/$f" || -L "$BASE/usr/local/$f" ]] || echo "$f"
    done | head -n 5 | tr '\n' ' ')
    if [[ -n "${left// /}" ]]; then
        fail make-uninstall-dkms "left behind:$left"
    else
        pass make-uninstall-dkms
    fi
}

# ko_count KREL: number of kvmfi modules dkms installed for KREL.
ko_count() {
    local krel=$1 n=0 m
    for m in "${MODULE_NAMES[@]}"; do
        if compgen -G "$ROOT/lib/modules/$krel/updates/dkms/$m.ko*" >/dev/null; then
            n=$((n + 1))
        fi
    done
    echo "$n"
}

dkms_state() { # dkms_state KREL: "installed", "built", ... or empty
    in_chroot_out "dkms status -m kvmfi -k $1" | sed -n "s/^kvmfi\/[^,]*, $1, [^:]*: \([a-z]*\).*/\1/p" | head -n 1
}

# krel_of ID: the kernel release of a cached bench kernel (bench/fetch-kernels.sh).
krel_of() {
    # shellcheck source=/dev/null
    (source "$KVMFI_CACHE/kernels/$1/kernel.env" && echo "${KREL:?}")
}

# no_initramfs_deb: a stand-in providing linux-initramfs-tool, so a kernel
# image installs in the chroot without initramfs-tools building an initrd
# (minutes, and nothing boots from this chroot). Kernel hooks still run.
no_initramfs_deb() {
    local d="$RUN_DIR/no-initramfs"
    mkdir -p "$d/DEBIAN"
    cat >"$d/DEBIAN/control" <<'CONTROL'
Package: kvmfi-test-no-initramfs
Version: 1.0
Architecture: all
Maintainer: kvmfi developers <kvmfi@example.invalid>
Provides: linux-initramfs-tool
Description: test stand-in: no initramfs in the kvmfi packaging chroot
CONTROL
    dpkg-deb --root-owner-group --build "$d" "$ROOT/tmp/no-initramfs.deb" >/dev/null
}

# install_kernel ID headers|image: apt-get installs the cached Debian kernel
# packages of that id in the chroot: headers, common headers and kbuild, and
# with "image" the kernel image too (the 6.12 headers depend on it).
install_kernel() {
    local id=$1 with_image=$2 env="$KVMFI_CACHE/kernels/$1/kernel.env"
    [[ -f "$env" ]] || bash "$REPO/bench/fetch-kernels.sh" "$id" >&2 || return 1
    local debs=() f
    mkdir -p "$ROOT/tmp/kdebs-$id"
    if [[ $with_image == image ]]; then
        no_initramfs_deb
        in_chroot "dpkg -i /tmp/no-initramfs.deb" || return 1
    fi
    for f in "$KVMFI_CACHE/kernels/$id"/debs/*.deb; do
        case "${f##*/}" in linux-image-*) [[ $with_image == image ]] || continue ;; esac
        cp "$f" "$ROOT/tmp/kdebs-$id/"
        debs+=("/tmp/kdebs-$id/${f##*/}")
    done
    # shellcheck disable=SC1090
    (source "$env" && kid_parse "$id" &&
        in_chroot "apt-get install -y -q --no-install-recommends -t $KID_SUITE ${debs[*]}")
}

main() {
    local deb="" prepare=0
    while (($#)); do
        case "$1" in
            --deb) deb=$2; shift ;;
            --prepare) prepare=1 ;;
            --keep) KEEP=1 ;;
            -h | --help) usage; return 0 ;;
            *) usage >&2; return 2 ;;
        esac
        shift
    done
    [[ $(id -u) -eq 0 ]] || die "needs root (chroot, mounts)"
    cargo_path
    if ((prepare)); then
        make_base
        return 0
    fi
    local arch
    arch=$(dpkg --print-architecture)
    local id_old id_new
    case "$arch" in
        amd64) id_old=x86_64-6.1 id_new=x86_64-6.12 ;;
        arm64) id_old=arm64-6.1 id_new=arm64-6.12 ;;
        *) die "no bench kernels for $arch" ;;
    esac
    local version
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$REPO/Cargo.toml" | head -n 1)

    # 1. The package.
    local t
    t=$(now_s)
    mkdir -p "$CHROOT_CACHE"
    : >"$LOGFILE"
    if [[ -z "$deb" ]]; then
        if deb=$(make -C "$REPO" --no-print-directory deb 2>"$CHROOT_CACHE/make-deb.log" | tail -n 1) && [[ -f "$deb" ]]; then
            pass make-deb "$(basename "$deb") in $(elapsed "$t") s"
        else
            fail make-deb "$(tail -n 3 "$CHROOT_CACHE/make-deb.log" | tr '\n' ' ')"
            echo "$PASS passed, $FAIL failed"
            return 1
        fi
    fi
    version=$(dpkg-deb -f "$deb" Version)
    # The modules DKMS must build: the packaged dkms.conf's list.
    mapfile -t MODULE_NAMES < <(dpkg-deb --fsys-tarfile "$deb" |
        tar -xOf - "./usr/src/kvmfi-$version/dkms.conf" 2>/dev/null |
        sed -n 's/^BUILT_MODULE_NAME\[[0-9]*\]="\(.*\)"/\1/p')
    local contents
    contents=$(dpkg-deb -c "$deb")
    local want missing=()
    for want in ./usr/bin/vfs-read-fi ./usr/bin/kvmfi-check ./usr/bin/file-read-fi-main \
        ./usr/share/man/man8/vfs-read-fi.8.gz ./usr/share/bash-completion/completions/vfs-read-fi.bash \
        ./usr/share/zsh/vendor-completions/_vfs-read-fi ./usr/share/fish/vendor_completions.d/vfs-read-fi.fish \
        "./usr/src/kvmfi-$version/dkms.conf" "./usr/src/kvmfi-$version/Kbuild" "./usr/src/kvmfi-$version/Makefile"; do
        grep -q " $want\( ->.*\)\?$" <<<"$contents" || missing+=("$want")
    done
    ((${#MODULE_NAMES[@]})) || missing+=("BUILT_MODULE_NAME in dkms.conf")
    if ((${#missing[@]})); then
        fail deb-contents "missing: ${missing[*]}"
    else
        pass deb-contents "${#MODULE_NAMES[@]} modules in dkms.conf"
    fi
    check deb-depends "Depends: $(dpkg-deb -f "$deb" Depends)" \
        grep -q '^dkms\(,\|$\)' <<<"$(dpkg-deb -f "$deb" Depends)"

    # 2. make install / uninstall into a fresh root (host side).
    RUN_DIR=$(mktemp -d "$CHROOT_CACHE/host.XXXXXX")
    test_make_install
    rm -rf "$RUN_DIR"
    RUN_DIR=""

    # 3. The clean chroot.
    t=$(now_s)
    make_base
    enter_run_root
    log "chroot ready in $(elapsed "$t") s ($ROOT)"
    in_chroot "apt-get -q update" || { fail chroot-apt-update "see $LOGFILE"; }

    t=$(now_s)
    cp "$deb" "$ROOT/tmp/"
    if in_chroot "apt-get install -y -q --no-install-recommends /tmp/$(basename "$deb")"; then
        pass apt-install "in $(elapsed "$t") s"
    else
        fail apt-install "$(tail -n 3 "$LOGFILE" | tr '\n' ' ')"
    fi
    local status
    status=$(in_chroot_out "dkms status" || true)
    check dkms-status-added "dkms status: ${status:-empty}" grep -q "^kvmfi/$version" <<<"$status"
    check tools-run "vfs-read-fi/kvmfi-check --help failed in the chroot" \
        in_chroot "vfs-read-fi --help >/dev/null && kvmfi-check --help >/dev/null && file-read-fi-main --help >/dev/null"
    check cluster-files "cluster_manage.sh or /etc/kvmfi/cluster.conf missing or unread in the chroot" \
        in_chroot "cd / && cluster_manage.sh help 2>&1 | grep -q inject-crash && cluster_controller nodes | grep -q master && dpkg-query --control-show kvmfi conffiles | grep -qx /etc/kvmfi/cluster.conf"
    check man-page "man vfs-read-fi did not render in the chroot" \
        in_chroot "MANPAGER=cat man vfs-read-fi | grep -q vfs-read-fi"
    check completions "bash/zsh/fish completion files missing in the chroot" \
        test -f "$ROOT/usr/share/bash-completion/completions/vfs-read-fi.bash" \
        -a -f "$ROOT/usr/share/zsh/vendor-completions/_vfs-read-fi" \
        -a -f "$ROOT/usr/share/fish/vendor_completions.d/vfs-read-fi.fish"

    # 4. Headers of the old kernel installed: dkms's header hook builds.
    local krel_old="" krel_new="" n
    t=$(now_s)
    if install_kernel "$id_old" headers; then
        log "$id_old headers installed in $(elapsed "$t") s"
        krel_old=$(krel_of "$id_old")
        n=$(ko_count "$krel_old")
        if [[ "$(dkms_state "$krel_old")" == installed && $n -eq ${#MODULE_NAMES[@]} ]]; then
            pass dkms-build-on-headers "$krel_old: $n modules in /lib/modules/$krel_old/updates/dkms by dkms's header hook, $(elapsed "$t") s"
        else
            fail dkms-build-on-headers "$krel_old: state '$(dkms_state "$krel_old")', $n/${#MODULE_NAMES[@]} modules; $(in_chroot_out "tail -n 5 /var/lib/dkms/kvmfi/$version/build/make.log" | tr '\n' ' ')"
        fi
        local vm
        vm=$(in_chroot_out "modinfo -F vermagic /lib/modules/$krel_old/updates/dkms/file-read-fi.ko*" || true)
        check module-vermagic "vermagic '$vm'" grep -q "^$krel_old " <<<"$vm"
    else
        fail dkms-build-on-headers "apt-get install of the $id_old headers failed: $(tail -n 3 "$LOGFILE" | tr '\n' ' ')"
    fi

    # 5. Kernel upgrade: the new kernel (image + headers) installed; dkms's
    # kernel hooks rebuild the modules for it.
    t=$(now_s)
    if install_kernel "$id_new" image; then
        krel_new=$(krel_of "$id_new")
        n=$(ko_count "$krel_new")
        if [[ "$(dkms_state "$krel_new")" == installed && $n -eq ${#MODULE_NAMES[@]} ]]; then
            pass dkms-rebuild-on-upgrade "$krel_new: $n modules by dkms's kernel hook, $(elapsed "$t") s (kernel install incl.)"
        else
            fail dkms-rebuild-on-upgrade "$krel_new: state '$(dkms_state "$krel_new")', $n/${#MODULE_NAMES[@]} modules"
        fi
        check dkms-old-kernel-kept "modules for $krel_old gone after the upgrade" \
            test "$(dkms_state "$krel_old")" = installed
    else
        fail dkms-rebuild-on-upgrade "apt-get install of the $id_new kernel failed: $(tail -n 3 "$LOGFILE" | tr '\n' ' ')"
    fi

    # 6. Removal.
    t=$(now_s)
    if in_chroot "apt-get remove -y -q kvmfi"; then
        status=$(in_chroot_out "dkms status" || true)
        local left=""
        for k in $krel_old $krel_new; do
            [[ $(ko_count "$k") -eq 0 ]] || left+=" $k:$(ko_count "$k")"
        done
        [[ ! -e "$ROOT/usr/src/kvmfi-$version" ]] || left+=" /usr/src/kvmfi-$version"
        [[ ! -e "$ROOT/var/lib/dkms/kvmfi" ]] || left+=" /var/lib/dkms/kvmfi"
        [[ ! -e "$ROOT/usr/bin/vfs-read-fi" ]] || left+=" /usr/bin/vfs-read-fi"
        if grep -q '^kvmfi' <<<"$status" || [[ -n "$left" ]]; then
            fail apt-remove "dkms status: '$status'; left:$left"
        else
            pass apt-remove "in $(elapsed "$t") s"
        fi
    else
        fail apt-remove "$(tail -n 3 "$LOGFILE" | tr '\n' ' ')"
    fi

    # 7. make install / uninstall on a host with dkms (the chroot, dkms still
    # installed): DKMS source registered and built for the old kernel.
    if [[ -n "$krel_old" ]]; then
        test_make_install_dkms "$version" "$krel_old"
    fi

    log "total $(elapsed "$T0") s"
    cleanup
    echo "$PASS passed, $FAIL failed"
    [[ $FAIL -eq 0 ]]
}

main "$@"
