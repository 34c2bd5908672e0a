#!/bin/sh
# bench-timeout: 240
# bench-image-modules: loop
# hadoop_injector io-slow (cgroup v2 io.max; the build machine has no io
# controller): the DataNode's process moves into a cgroup of kvmfi's whose
# io.max throttles a loop disk to 1 MB/s, direct reads from inside that
# cgroup slow down to that rate, and io-slow off (or recover after kill -9)
# puts the process back into its own cgroup and removes kvmfi's.
. /bench/lib.sh
export KVMFI_STATE_DIR=/tmp/kvmfi-journal
CG=/sys/fs/cgroup

if ! grep -qw io "$CG/cgroup.controllers" 2>/dev/null; then
    skip io.controller "no cgroup v2 io controller in $CG"
    exit 0
fi
load_image_module loop || { fail io.loop-module "cannot load loop"; exit 0; }
dd if=/dev/zero of=/tmp/disk.img bs=1M count=32 2>/dev/null
LOOP=$(losetup -f)
losetup "$LOOP" /tmp/disk.img || { fail io.losetup "losetup $LOOP failed"; exit 0; }
DEV=$(cat "/sys/block/$(basename "$LOOP")/dev")
echo "io: disk $LOOP ($DEV)"

# A DataNode: a process whose command line is "java <main class>" (this
# program's memory helper started under the name java; --main-class tells
# hadoop_injector that class "mem" is the DataNode).
mkdir -p /tmp/jbin && ln -sf /usr/bin/hadoop_injector /tmp/jbin/java
/tmp/jbin/java --kvmfi-helper mem 1 --kvmfi-tag=dn-standin >/dev/null &
DN=$!
sleep 1
HI="hadoop_injector --main-class dn=mem"
expect_match io.list-dn "$($HI list)" "^dn	$DN	"
orig=$(cat "/proc/$DN/cgroup")

now_cs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
# read_cs [CGROUP]: centiseconds to read 4 MB of the disk with O_DIRECT,
# from a shell inside CGROUP (default: this one's)
read_cs() {
    sh -c "[ -n '$1' ] && echo \$\$ >'$1/cgroup.procs'; t0=\$(awk '{ printf \"%d\", \$1 * 100 }' /proc/uptime);
           dd if=$LOOP of=/dev/null bs=64k count=64 iflag=direct 2>/dev/null || echo dd-failed >&2;
           echo \$((\$(awk '{ printf \"%d\", \$1 * 100 }' /proc/uptime) - t0))"
}
base=$(read_cs)
echo "io: 4 MB direct read before: ${base}0 ms"

$HI io-slow 127.0.0.1 on --device "$DEV" --rate 1048576
expect_eq io.on-rc "$?" 0
grp=$(sed -n 's/^0:://p' "/proc/$DN/cgroup")
expect_match io.dn-moved "$grp" "^/kvmfi-io-[0-9]+$"
expect_match io.max-set "$(cat "$CG$grp/io.max" 2>/dev/null)" "^$DEV rbps=1048576 wbps=1048576"
slow=$(read_cs "$CG$grp")
echo "io: 4 MB direct read inside the DataNode's cgroup: ${slow}0 ms"
# 4 MB at 1 MB/s: about 3 s at least (the first bytes go without waiting)
expect_ge io.throttled "$slow" 250

$HI io-slow 127.0.0.1 off
expect_eq io.off-rc "$?" 0
expect_eq io.dn-back "$(cat "/proc/$DN/cgroup")" "$orig"
if ls -d "$CG"/kvmfi-io-* >/dev/null 2>&1; then fail io.cgroup-removed "$(ls -d "$CG"/kvmfi-io-*)"; else pass io.cgroup-removed; fi
after=$(read_cs)
echo "io: 4 MB direct read after io-slow off: ${after}0 ms"
if [ "$after" -lt 200 ]; then pass io.off-fast-again; else fail io.off-fast-again "${after}0 ms"; fi

KVMFI_TEST_DIE_AFTER_APPLY=1 $HI io-slow-local on --device "$DEV"
expect_eq io.killed-rc "$?" 137
expect_match io.killed-in-force "$(cat "/proc/$DN/cgroup")" "kvmfi-io-"
$HI recover
expect_eq io.recover-rc "$?" 0
expect_eq io.recover-dn-back "$(cat "/proc/$DN/cgroup")" "$orig"
if ls -d "$CG"/kvmfi-io-* >/dev/null 2>&1; then fail io.recover-cgroup-removed "left"; else pass io.recover-cgroup-removed; fi
expect_eq io.journal-empty "$($HI status --all)" ""
echo "io: figures: direct read of 4 MB before=${base}0ms throttled=${slow}0ms after=${after}0ms"
kill "$DN" 2>/dev/null
losetup -d "$LOOP"
