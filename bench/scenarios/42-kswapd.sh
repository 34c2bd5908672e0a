#!/bin/sh
# bench-timeout: 280
# bench-image-modules: zram
# kswapd-fi / kswapd-fi.ko: memory reclaim (shrink_node) delayed or skipped.
#   - a workload in a memory-limited cgroup that can only go on by reclaim
#     completes; with the cgroup's direct reclaim skipped it is OOM-killed
#     (memory.events oom_kill), and completes again after `off`;
#   - the default scope, kswapd only, leaves that direct reclaim alone;
#   - kswapd is hit (delay) when free memory drops below its watermark;
#   - the original kswapd-fi-main program and /proc knobs.
# The workload: mm-test hog writes 48 MiB of anonymous memory in a cgroup
# limited to 16 MiB; it can only go on by reclaim, which swaps pages out to
# a compressed RAM disk (zram, from the kernel image).
. /bench/lib.sh

T=kswapd
if ! has_kmod kswapd-fi; then
    skip "$T" "kswapd-fi.ko not built for this kernel"
    exit 0
fi
export KVMFI_MODULE_DIR="$KMODS"
CG=/sys/fs/cgroup/kswapd-fi
status_field() { kswapd-fi status | awk -v k="$1" '$1 == k { print $2 }'; }
event() { awk -v k="$1" '$1 == k { print $2 }' "$CG/memory.events"; }
# workload: the memory hog inside the cgroup; prints its exit status, leaves
# its pid in /tmp/hog.pid.
workload() {
    sh -c "echo \$\$ >/tmp/hog.pid && echo \$\$ >$CG/cgroup.procs && exec mm-test hog --mb 48 --alarm 200" >/dev/null 2>&1
    echo $?
}
# shellcheck disable=SC2034 # read by expect_exp_events (lib.sh)
FI=kswapd-fi
# hog_ev WHAT VALUE: the event pattern of a reclaim fault in the last hog.
hog_ev() { echo " pid=$(cat /tmp/hog.pid) tgid=$(cat /tmp/hog.pid) comm=mm-test what=$1 value=$2 "; }

# Swap on zram, so that reclaim has somewhere to put anonymous pages.
if ! load_image_module zram >/dev/null 2>&1 || [ ! -e /sys/block/zram0/disksize ]; then
    skip "$T" "no zram module in the kernel image"
    exit 0
fi
echo 256M >/sys/block/zram0/disksize
if ! mkswap /dev/zram0 >/dev/null 2>&1 || ! swapon /dev/zram0; then
    skip "$T" "cannot swap on /dev/zram0"
    exit 0
fi
if ! grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
    skip "$T" "no cgroup v2 memory controller"
    exit 0
fi
echo +memory >/sys/fs/cgroup/cgroup.subtree_control
mkdir -p "$CG"
echo 16M >"$CG/memory.max"
dmesg_mark

# 1. Without a fault: the workload needs reclaim (memory.events max) and completes.
expect_eq "$T.baseline-completes" "$(workload)" 0
expect_ge "$T.baseline-needed-reclaim" "$(event max)" 1
expect_eq "$T.baseline-no-oom" "$(event oom_kill)" 0

# 2. The default scope is kswapd only: the cgroup's direct reclaim still works.
kswapd-fi arm --mode skip --duration 2m >/dev/null
expect_eq "$T.kswapd-scope-direct-unaffected" "$(workload)" 0
expect_eq "$T.kswapd-scope-no-oom" "$(event oom_kill)" 0
kswapd-fi off

# 3. The cgroup's direct reclaim skipped: OOM-killed, memory.events says so.
id=$(kswapd-fi arm --cgroup "$CG" --mode skip --duration 2m)
expect_eq "$T.skip-oom-killed" "$(workload)" 137
expect_ge "$T.skip-oom-kill-event" "$(event oom_kill)" 1
expect_ge "$T.skip-injected" "$(status_field injected)" 1
matrix_row kswapd-fi "$T.skip-oom-killed"
expect_eq "$T.skip-all-matched-injected" "$(status_field matched)" "$(status_field injected)"
# every skipped reclaim is an event of this experiment, in the hog (the ring
# holds the newest 1024)
expect_exp_events "$T.skip-events" "$id" "$(in_ring "$(status_field injected)")" "$(hog_ev skip 0)"
kswapd-fi off
# 4. ... and completes again without the fault.
kills=$(event oom_kill)
expect_eq "$T.after-off-completes" "$(workload)" 0
expect_eq "$T.after-off-no-new-oom" "$(event oom_kill)" "$kills"

# 5. Delay of the cgroup's reclaim: slower, but it completes.
id=$(kswapd-fi arm --cgroup "$CG" --mode delay --ms 1 --duration 2m)
expect_eq "$T.delay-completes" "$(workload)" 0
expect_ge "$T.delay-injected" "$(status_field injected)" 1
expect_exp_events "$T.delay-events" "$id" "$(in_ring "$(status_field injected)")" "$(hog_ev delay 1)"
kswapd-fi off

# 6. kswapd itself: raise the watermarks as far as they go (low = min + 30%
#    of memory), then take free memory below the low watermark (and far
#    above min, so no direct reclaim) with anonymous memory, held while kswapd
#    tries to reclaim. The hog takes base pages: a transparent huge page
#    fault never wakes kswapd and may go down to min (on 7.3 it did, all
#    three attempts, free held 52k pages below low and kswapd never ran). Up
#    to three attempts (kswapd's wake-up is asynchronous), each going further
#    below low (96, 160, 224 MB, but 64 MB above min at least).
old_wsf=$(cat /proc/sys/vm/watermark_scale_factor)
echo 3000 >/proc/sys/vm/watermark_scale_factor
id=$(kswapd-fi arm --mode delay --ms 2 --duration 2m)
why=""
for attempt in 1 2 3; do
    # The zone with the most free pages: its free, min and low counts.
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(awk '/^Node/ { z = $4 } $1 == "pages" && $2 == "free" { f[z] = $3 }
        $1 == "min" { m[z] = $2 } $1 == "low" { l[z] = $2 }
        END { for (z in f) if (f[z] > best) { best = f[z]; out = f[z] " " m[z] " " l[z] } print out }' /proc/zoneinfo)
    zfree=$1 zmin=$2 zlow=$3
    mb=$(( (zfree - zlow) * 4 / 1024 + 32 + 64 * attempt ))
    room=$(( (zfree - zmin) * 4 / 1024 - 64 ))
    [ "$mb" -gt "$room" ] && mb=$room
    if [ $(( (zfree - zlow) * 4 / 1024 )) -ge "$mb" ]; then
        why="not enough room between the watermarks (free $zfree min $zmin low $zlow pages)"
        break
    fi
    runs0=$(awk '$1 == "pageoutrun" { print $2 }' /proc/vmstat)
    mm-test hog --mb "$mb" --hold-ms 3000 --alarm 200 >/tmp/hog.out 2>&1 &
    hog=$!
    # while it holds: every zone's free and low, and the reclaim counters
    sleep 2
    held=$(awk '/^Node/ { z = $4 } $1 == "pages" && $2 == "free" { f = $3 } $1 == "low" { printf "%s %s/%s ", z, f, $2 }' /proc/zoneinfo)
    vm=$(awk '$1 ~ /^(allocstall_|pgscan_kswapd|kswapd_|compact_stall|thp_fault_alloc)/ && $2 { printf "%s=%s ", $1, $2 }' /proc/vmstat)
    wait "$hog"
    out=$(cat /tmp/hog.out)
    runs1=$(awk '$1 == "pageoutrun" { print $2 }' /proc/vmstat)
    this="[attempt $attempt: hog ${mb}M ($out), free $zfree min $zmin low $zlow pages; held: free/low $held; $vm; kswapd runs $runs0 -> $runs1]"
    echo "kswapd-hit $this"
    why="$why $this"
    [ "$(status_field injected)" -ge 1 ] && break
done
if [ "$(status_field injected)" -ge 1 ]; then
    pass "$T.kswapd-hit"
    # each delayed pass is an event in kswapd (one per node: kswapdN)
    kswapds=$(grep -lx 'kswapd[0-9]*' /proc/[0-9]*/comm | cut -d/ -f3 | tr '\n' '|' | sed 's/|$//')
    expect_exp_events "$T.kswapd-events" "$id" "$(in_ring "$(status_field injected)")" \
        " pid=($kswapds) tgid=($kswapds) comm=kswapd[0-9]+ what=delay value=2 "
else
    fail "$T.kswapd-hit" "no kswapd pass delayed:$why"
fi
kswapd-fi off
echo "$old_wsf" >/proc/sys/vm/watermark_scale_factor

# 7. The original control program: kswapd-fi-main TIMES (skip, kswapd only).
ln -sf "$(command -v kswapd-fi)" /tmp/kswapd-fi-main
out=$(/tmp/kswapd-fi-main 5 2>&1)
expect_match "$T.legacy-armed" "$out" 'armed kswapd-fi'
expect_eq "$T.legacy-knobs" "$(cat /proc/kswapd-fi/signal),$(cat /proc/kswapd-fi/times)" "1,5"
expect_eq "$T.legacy-remaining" "$(status_field remaining)" 5
echo 0 >/proc/kswapd-fi/signal
expect_eq "$T.legacy-off" "$(status_field state)" disarmed

kswapd-fi unload
rmdir "$CG" 2>/dev/null
swapoff /dev/zram0

dmesg_clean_but_oom "$T"
exit 0
