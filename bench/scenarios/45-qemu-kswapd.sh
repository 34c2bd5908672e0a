#!/bin/sh
# bench-timeout: 240
# bench-needs: qemu
# bench-image-modules: zram
# kswapd-fi with QEMU in a memory cgroup: QEMU preallocates its guest RAM
# (-m 96 -mem-prealloc) in a cgroup limited to 48 MiB, with swap on zram; it
# can only come up by reclaim. Without a fault it does (the payload runs,
# memory.events max grows, no OOM kill); with the cgroup's direct reclaim
# skipped (kswapd-fi --cgroup, mode skip) QEMU is OOM-killed (SIGKILL,
# memory.events oom_kill), and every skipped pass is an event in QEMU.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=kswapd-fi
P=qemu.kswapd

require_qemu $P
CG=/sys/fs/cgroup/qemu-kswapd
event() { awk -v k="$1" '$1 == k { print $2 }' "$CG/memory.events"; }
t_start=$(date +%s)

if ! load_image_module zram >/dev/null 2>&1 || [ ! -e /sys/block/zram0/disksize ]; then
    skip $P "no zram module in the kernel image"
    exit 0
fi
# (zram0 may be left over from 42-kswapd: reset it)
swapoff /dev/zram0 2>/dev/null
echo 1 >/sys/block/zram0/reset
echo 256M >/sys/block/zram0/disksize
if ! mkswap /dev/zram0 >/dev/null 2>&1 || ! swapon /dev/zram0; then
    skip $P "cannot swap on /dev/zram0"
    exit 0
fi
if ! grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    skip $P "no cgroup v2 memory controller"
    exit 0
fi
echo +memory >/sys/fs/cgroup/cgroup.subtree_control
mkdir -p "$CG"
echo 48M >"$CG/memory.max"
dmesg_mark

# qemu_in_cgroup NAME: QEMU instance NAME (96 MiB preallocated) started in
# the cgroup; waits until the payload runs or QEMU is gone; sets UP (yes/no)
# and QRC (QEMU's exit status when gone: 137 = SIGKILL), SECS.
qemu_in_cgroup() {
    _t0=$(date +%s)
    QEMU_MEM=96 qemu_start_stopped "$1" -mem-prealloc
    echo "$QPID" >"$CG/cgroup.procs"
    kill -CONT "$QPID"
    UP=no QRC=-
    if qemu_wait_up "$1" && qemu_progresses "$1"; then
        UP=yes
        kill -9 "$QPID"
    fi
    wait "$QPID"
    _rc=$?
    [ "$UP" = yes ] || QRC=$_rc
    SECS=$(($(date +%s) - _t0))
    echo "BENCH-QEMU-KSWAPD tag=$1 up=$UP rc=$QRC seconds=$SECS memory.events: $(tr '\n' ' ' <"$CG/memory.events")"
}

# 1. Without a fault: QEMU needs reclaim to come up, and does.
qemu_in_cgroup base
expect_eq $P.base-up "$UP" yes
expect_ge $P.base-needed-reclaim "$(event max)" 1
expect_eq $P.base-no-oom "$(event oom_kill)" 0

# 2. The cgroup's direct reclaim skipped: QEMU is OOM-killed.
id=$($T arm --cgroup "$CG" --mode skip --duration 2m)
qemu_in_cgroup armed
expect_eq $P.skip-qemu-oom-killed "$UP,$QRC" no,137
expect_ge $P.skip-oom-kill-event "$(event oom_kill)" 1
expect_ge $P.skip-injected "$(st injected)" 1
expect_exp_events $P.skip-events "$id" "$(in_ring "$(st injected)")" " tgid=$QPID comm=$QEMU_COMM what=skip value=0 "
$T off

# 3. After off: QEMU comes up again, no new OOM kill.
kills=$(event oom_kill)
qemu_in_cgroup after
expect_eq $P.after-off-up "$UP" yes
expect_eq $P.after-off-no-new-oom "$(event oom_kill)" "$kills"

$T unload
rmdir "$CG" 2>/dev/null
swapoff /dev/zram0
echo "BENCH-QEMU-KSWAPD seconds=$(($(date +%s) - t_start))"
dmesg_clean_but_oom $P
exit 0
