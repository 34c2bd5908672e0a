#!/bin/sh
# bench-timeout: 300
# bench-image-modules: nfsd nfsv3
# bench-host-tools: rpcbind rpc.nfsd rpc.mountd exportfs mount.nfs
# cloudstack_injector storage-ro on an NFS export (the build machine's
# kernel has no nfsd): a loopback NFSv3 mount of /srv/primary; storage-ro
# re-exports it read-only (writes through the mount fail with EROFS),
# storage-rw puts the previous export options back, recover after kill -9
# does too. The NFS server's user-space (rpcbind, rpc.nfsd, rpc.mountd,
# exportfs, mount.nfs) comes from the host's nfs-kernel-server and
# nfs-common (bench-host-tools: same-arch guests only).
. /bench/lib.sh
export KVMFI_STATE_DIR=/tmp/kvmfi-journal
CI=cloudstack_injector

for t in rpcbind rpc.nfsd rpc.mountd exportfs mount.nfs; do
    if [ ! -x "/usr/sbin/$t" ]; then
        skip nfs.tools "no /usr/sbin/$t in this guest (install nfs-kernel-server on the host; same-arch guests only)"
        exit 0
    fi
done
for m in nfsd nfsv3; do
    load_image_module "$m" || { fail "nfs.module-$m" "cannot load $m"; exit 0; }
done
pass nfs.modules

# What the NFS daemons expect of a system.
mkdir -p /etc /var/lib/nfs/v4recovery /run/rpcbind /srv/primary /mnt/primary /proc/fs/nfsd
cat >/etc/netconfig <<'EOF'
udp        tpi_clts      v     inet     udp     -       -
tcp        tpi_cots_ord  v     inet     tcp     -       -
udp6       tpi_clts      v     inet6    udp     -       -
tcp6       tpi_cots_ord  v     inet6    tcp     -       -
rawip      tpi_raw       -     inet      -      -       -
local      tpi_cots_ord  -     loopback  -      -       -
unix       tpi_cots_ord  -     loopback  -      -       -
EOF
# Each account the daemons need (rpcbind runs as _rpc), whatever an earlier
# scenario already put in these files (10-vfs-read adds nobody).
for u in 'root:x:0:0:root:/root:/bin/sh' '_rpc:x:107:65534::/run/rpcbind:/bin/false' \
    'statd:x:108:65534::/var/lib/nfs:/bin/false' 'nobody:x:65534:65534::/:/bin/false'; do
    grep -q "^${u%%:*}:" /etc/passwd 2>/dev/null || echo "$u" >>/etc/passwd
done
for g in 'root:x:0:' 'nogroup:x:65534:'; do
    grep -q "^${g%%:*}:" /etc/group 2>/dev/null || echo "$g" >>/etc/group
done
printf '127.0.0.1 localhost\n' >/etc/hosts
printf 'sunrpc 111/tcp portmapper\nsunrpc 111/udp portmapper\nnfs 2049/tcp\nnfs 2049/udp\n' >/etc/services
printf 'ip 0 IP\nicmp 1 ICMP\ntcp 6 TCP\nudp 17 UDP\nipv6 41 IPv6\n' >/etc/protocols
: >/var/lib/nfs/etab
: >/var/lib/nfs/rmtab
ip link set lo up
echo data >/srv/primary/file

step() { # NAME CMD...: run a setup step; on failure SKIP with its output
    _n=$1; shift
    if ! "$@" >/tmp/step.out 2>&1; then
        cat /tmp/step.out
        skip "nfs.setup-$_n" "'$*' failed: $(tail -n 2 /tmp/step.out | tr '\n' ' ')"
        exit 0
    fi
}
step nfsdfs mount -t nfsd nfsd /proc/fs/nfsd
step rpcbind rpcbind -w
# rpcbind daemonizes before it listens; under load rpc.nfsd can then find
# nobody to register with (ECONNREFUSED): wait for its socket.
_w=0
while [ ! -S /run/rpcbind.sock ] && [ $_w -lt 10 ]; do sleep 1; _w=$((_w + 1)); done
echo "/srv/primary 127.0.0.1(rw,sync,no_subtree_check,no_root_squash,insecure)" >/etc/exports
step exportfs exportfs -ra
step mountd rpc.mountd -N 4
# retry N CMD...: CMD, up to N times a second apart (a slow rpcbind start).
retry() {
    _t=$1; shift
    until "$@"; do
        _t=$((_t - 1))
        [ $_t -gt 0 ] || return 1
        sleep 1
    done
}
step nfsd retry 5 rpc.nfsd -N 4 2
step mount mount.nfs 127.0.0.1:/srv/primary /mnt/primary -o vers=3,nolock,proto=tcp,mountproto=tcp
exportfs -v
pass nfs.loopback-mount

writable() { sh -c "echo x >/mnt/primary/probe-$1" 2>&1; }
if out=$(writable a); then pass nfs.writable-before; else fail nfs.writable-before "$out"; fi

$CI storage-ro /srv/primary
expect_eq nfs.storage-ro-rc "$?" 0
exportfs -v
expect_match nfs.export-ro "$(cat /var/lib/nfs/etab)" "\(ro,"
out=$(writable b)
expect_match nfs.storage-ro-erofs "$out" "Read-only file system"
$CI storage-rw /srv/primary
expect_eq nfs.storage-rw-rc "$?" 0
if out=$(writable c); then pass nfs.storage-rw-writable; else fail nfs.storage-rw-writable "$out"; fi
expect_match nfs.export-rw-again "$(cat /var/lib/nfs/etab)" "\(rw,"

KVMFI_TEST_DIE_AFTER_APPLY=1 $CI storage-ro /srv/primary
expect_eq nfs.killed-storage-ro-rc "$?" 137
out=$(writable d)
expect_match nfs.killed-storage-ro-in-force "$out" "Read-only file system"
$CI recover
expect_eq nfs.recover-rc "$?" 0
if out=$(writable e); then pass nfs.recover-writable; else fail nfs.recover-writable "$out"; fi
expect_eq nfs.journal-empty "$($CI status --all)" ""
umount /mnt/primary 2>/dev/null
rpc.nfsd 0 2>/dev/null
