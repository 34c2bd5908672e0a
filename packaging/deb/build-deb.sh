#!/usr/bin/env bash
# Builds the Debian package kvmfi_VERSION_ARCH.deb with dpkg-deb (`make deb`).
#
# Contents come from `make install DESTDIR=<stage> PREFIX=/usr DKMS=yes`:
#   /usr/bin/*                       release binaries + links for the original program names
#   /usr/share/man/man8/*.8.gz       man pages
#   /usr/share/bash-completion/completions, /usr/share/zsh/vendor-completions,
#   /usr/share/fish/vendor_completions.d
#   /usr/src/kvmfi-VERSION/          the modules' source + dkms.conf (DKMS source tree)
#   /lib/systemd/system/kvmfi-recover.service   the boot-time recovery (enabled by postinst)
# postinst runs `dkms add` and `dkms install` for every kernel with headers;
# prerm runs `dkms remove --all`. Depends: dkms + the binaries' shared
# libraries (dpkg-shlibdeps).
#
# Environment: DEB_OUT (default target/deb), CARGO_TARGET_DIR, MAKE.
set -o errexit -o nounset -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$REPO/packaging/deb"
cd "$REPO"

log() { printf '[deb] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

command -v dpkg-deb >/dev/null || die "dpkg-deb not found (apt-get install dpkg)"
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
[[ -n "$VERSION" ]] || die "no version in Cargo.toml"
ARCH=$(dpkg --print-architecture)
OUT=${DEB_OUT:-$REPO/target/deb}
STAGE="$OUT/kvmfi_${VERSION}_${ARCH}"

# The staged dkms.conf is generated from Kbuild by make install; say so when
# the committed one lags behind.
if ! diff -q <(kmod/gen-dkms-conf.sh) kmod/dkms.conf >/dev/null; then
    log "warning: kmod/dkms.conf is out of date with kmod/Kbuild (make -C kmod dkms.conf); the package gets a fresh one"
fi

rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN"
log "make install DESTDIR=$STAGE PREFIX=/usr DKMS=yes"
${MAKE:-make} --no-print-directory install DESTDIR="$STAGE" PREFIX=/usr DKMS=yes >&2

# Debian layout: zsh's vendor directory, compressed man pages, docs.
if [[ -d "$STAGE/usr/share/zsh/site-functions" ]]; then
    mkdir -p "$STAGE/usr/share/zsh/vendor-completions"
    mv "$STAGE"/usr/share/zsh/site-functions/* "$STAGE/usr/share/zsh/vendor-completions/"
    rmdir "$STAGE/usr/share/zsh/site-functions"
fi
gzip -9nf "$STAGE"/usr/share/man/man8/*.8
install -D -m 0644 "$HERE/copyright" "$STAGE/usr/share/doc/kvmfi/copyright"
install -m 0644 README.md "$STAGE/usr/share/doc/kvmfi/README.md"
gzip -9nf "$STAGE/usr/share/doc/kvmfi/README.md"
grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$STAGE/usr/src/kvmfi-$VERSION/dkms.conf" ||
    die "no DKMS source tree of version $VERSION staged"
# Nothing built may end up in the source tree, and no .ko outside it.
if find "$STAGE" \( -name '*.ko' -o -name '*.o' \) | grep -q .; then
    die "built objects in the package: $(find "$STAGE" \( -name '*.ko' -o -name '*.o' \) | head -n 3)"
fi

# Run-time dependencies of the binaries.
elves=()
for f in "$STAGE"/usr/bin/*; do
    [[ -f "$f" && ! -L "$f" ]] && file -b "$f" | grep -q '^ELF' && elves+=("$f")
done
((${#elves[@]})) || die "no binaries staged"
shlibs=""
if command -v dpkg-shlibdeps >/dev/null; then
    tmp=$(mktemp -d)
    mkdir "$tmp/debian"
    printf 'Source: kvmfi\n\nPackage: kvmfi\nArchitecture: any\n' >"$tmp/debian/control"
    shlibs=$(cd "$tmp" && dpkg-shlibdeps -O "${elves[@]/#/-e}" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
    rm -rf "$tmp"
else
    log "dpkg-shlibdeps not found (apt-get install dpkg-dev); assuming libc6 only"
    shlibs="libc6"
fi
depends="dkms${shlibs:+, $shlibs}"

for script in postinst prerm; do
    sed "s/@VERSION@/$VERSION/g" "$HERE/$script" >"$STAGE/DEBIAN/$script"
    chmod 0755 "$STAGE/DEBIAN/$script"
done
kheaders=linux-headers-$ARCH
installed_size=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<CONTROL
Package: kvmfi
Version: $VERSION
Architecture: $ARCH
Maintainer: kvmfi developers <kvmfi@example.invalid>
Installed-Size: $installed_size
Depends: $depends
Suggests: $kheaders
Section: admin
Priority: optional
Homepage: $(sed -n 's/^repository = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
Description: kernel fault-injection toolbox (kprobe modules and their tools)
 kvmfi injects faults into a running Linux kernel and KVM guests: failed or
 corrupted file reads and writes, failing kernel functions, page faults, KVM
 ioctl, vCPU state and memory-slot faults, CPU register flips.
 .
 The kprobe kernel modules are built by DKMS for every kernel whose headers
 are installed (source in /usr/src/kvmfi-$VERSION); the command-line tools
 load them on demand. kvmfi-check reports which faults work on this host.
CONTROL
# The sample cluster file is the admin's to edit: a conffile dpkg keeps.
[[ -f "$STAGE/etc/kvmfi/cluster.conf" ]] || die "no /etc/kvmfi/cluster.conf staged"
echo /etc/kvmfi/cluster.conf >"$STAGE/DEBIAN/conffiles"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) \
    >"$STAGE/DEBIAN/md5sums"

deb="$OUT/kvmfi_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$deb" >&2
rm -rf "$STAGE"
log "built $deb ($(du -h "$deb" | cut -f1)); Depends: $depends"
echo "$deb"
