#!/bin/sh
# bench-timeout: 900
# bench-soak-timeout: 5400
# Reliability, short variants (BENCH_MODE=1 / make soak: long ones):
# hostile ioctls on every module device, arm/disarm and insmod/rmmod cycles
# under load without leaks, lease lateness, two tools at once, two arming
# processes. RELIABILITY lines carry the figures.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
# READERS: the hammering readers' own time limit, longer than every cycle
# (the soak's 1,000 cycles outlast 10 minutes: its readers died of SIGALRM).
if [ "${BENCH_MODE:-0}" = 1 ]; then FUZZ=1000000 CYCLES=1000 LOADS=50 READERS=5400; else FUZZ=50000 CYCLES=40 LOADS=5 READERS=600; fi
F=/tmp/rel.data
printf 'reliability\n' >$F
dmesg_mark

# 1. hostile ioctls on every module device, 4 threads
for ko in /kmods/*.ko; do
    m=$(basename "$ko" .ko)
    case $m in kvmfi-empty-*) continue ;; esac
    name=$(mod_name "$ko")
    rmmod "$name" 2>/dev/null
    params=""
    [ "$m" = func-fail-fi ] && params=symbol=do_sys_openat2
    if [ "$m" = pt-update-fi ] && [ "$BENCH_ARCH" = arm64 ]; then
        if insmod "$ko" 2>/dev/null; then
            fail "rel.fuzz.$m.refused-on-arm64" "insmod succeeded"; rmmod "$name"
        else
            pass "rel.fuzz.$m.refused-on-arm64"
        fi
        continue
    fi
    # shellcheck disable=SC2086
    if ! insmod "$ko" $params 2>/tmp/ins.err; then
        fail "rel.fuzz.$m" "insmod failed: $(cat /tmp/ins.err)"
        continue
    fi
    # permissions, enforced by the module itself: 0600 root, and root
    # without CAP_SYS_ADMIN is refused at open, ioctl and every /proc knob
    # (file modes alone would let root through)
    expect_match "rel.perm.$m.mode" "$(ls -ln "/dev/kvmfi/$name")" '^crw------- +1 0 +0 '
    knobs=$(for k in /proc/*/signal; do [ -f "$k" ] && echo "$k"; done)
    # shellcheck disable=SC2086 # the knobs as words
    want=$(echo $knobs | sed 's#[^ ][^ ]*#EPERM#g; s/ /,/g')
    # shellcheck disable=SC2086 # one argument per knob
    expect_eq "rel.perm.$m.no-cap-sys-admin" "$(fi-probe nocap /dev/kvmfi/$name $knobs)" "open=EPERM ioctl=EPERM knob=$want"
    # the core refuses a mode the module does not take: the one past its
    # last (kvm-tlb-fi takes mode 1 only: its 0), and far past it; where zero
    # module arguments are valid, its last mode is taken
    taken="" refused=2
    case $m in
        kvm-tlb-fi) refused=0 ;; pt-update-fi) refused=1 ;; kvm-state-fi) refused=3 ;;
        vm-migration-fi) refused=4 ;; func-fail-fi | pt-load-fi) taken=2 refused=3 ;;
        file-read-fi | file-write-fi) taken=1 ;;
    esac
    want="$refused=EINVAL 63=EINVAL 64=EINVAL 4294967295=EINVAL"
    [ -n "$taken" ] && want="$taken=ok $want"
    # shellcheck disable=SC2086 # $taken is empty or one mode
    expect_eq "rel.mode.$m" "$(fi-probe arm-mode "/dev/kvmfi/$name" $taken $refused 63 64 4294967295)" "$want"
    start=$(date +%s)
    out=$(fi-probe ioctl-fuzz "/dev/kvmfi/$name" --count $FUZZ --threads 4 --seed $$ --alarm 600)
    secs=$(($(date +%s) - start))
    echo "RELIABILITY fuzz $BENCH_KID $m $out seconds=$secs"
    expect_eq "rel.fuzz.$m.calls" "$(kv calls "$out")" "$FUZZ"
    expect_eq "rel.fuzz.$m.no-unexpected-errno" "$(kv unexpected "$out")" 0
    # still answers after the storm: version and status ioctls
    st=$(cat "/sys/module/$name/initstate" 2>/dev/null)
    if rmmod "$name"; then pass "rel.fuzz.$m.unloads-after"; else fail "rel.fuzz.$m.unloads-after" "rmmod failed (state $st)"; fi
done
# the file fault still works after its device was fuzzed
vfs-read-fi arm --comm fi-probe --path $F --times 2 >/dev/null
out=$(fi-probe read $F --count 3 --size 1)
expect_eq rel.works-after-fuzz "$(kv err "$out")" 2
vfs-read-fi unload

# 2. arm/disarm cycles and insmod/rmmod cycles under 4 readers, no leak
# slab: kB of slab in use once what can be freed is: page caches dropped,
# every cache shrunk (empty slabs freed; on a KASAN kernel this also empties
# its quarantine of freed objects, which otherwise keeps their slabs in use:
# the debug kernel's Slab grew 988-1300 kB over 40 cycles, kmemleak finding
# nothing). Merged caches are symlinks to their real one: skipped.
slab() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
    for c in /sys/kernel/slab/*; do
        [ -L "$c" ] || echo 1 >"$c/shrink" 2>/dev/null
    done
    awk '/^Slab:/ { print $2 }' /proc/meminfo
}
fi-probe read $F --count 100000000 --size 1 --alarm $READERS >/dev/null &
r1=$!
fi-probe read $F --count 100000000 --size 1 --alarm $READERS >/dev/null &
r2=$!
fi-probe read $F --count 100000000 --size 1 --alarm $READERS >/dev/null &
r3=$!
fi-probe read $F --count 100000000 --size 1 --alarm $READERS >/dev/null &
r4=$!
insmod /kmods/file-read-fi.ko
vfs-read-fi arm --comm nobody-matches --duration 0 >/dev/null && vfs-read-fi off
before=$(slab)
i=0 bad=0
while [ $i -lt $CYCLES ]; do
    vfs-read-fi arm --comm fi-probe --path $F --probability 30 --duration 0 --replace >/dev/null || bad=$((bad + 1))
    vfs-read-fi off || bad=$((bad + 1))
    i=$((i + 1))
done
after=$(slab)
echo "RELIABILITY arm-cycles $BENCH_KID cycles=$CYCLES slab_before_kb=$before slab_after_kb=$after"
expect_eq rel.arm-disarm-cycles-ok "$bad" 0
grow=$((after - before))
if [ "$grow" -lt 512 ]; then pass rel.arm-disarm-no-leak; else fail rel.arm-disarm-no-leak "slab grew ${grow} kB over $CYCLES cycles"; fi
rmmod file_read_fi
i=0 bad=0
while [ $i -lt $LOADS ]; do
    insmod /kmods/file-read-fi.ko || bad=$((bad + 1))
    vfs-read-fi arm --comm fi-probe --path $F --probability 50 --duration 0 >/dev/null || bad=$((bad + 1))
    sleep 0.1
    rmmod file_read_fi || bad=$((bad + 1))
    i=$((i + 1))
done
kill -0 $r1 && kill -0 $r2 && kill -0 $r3 && kill -0 $r4
alive=$?
kill $r1 $r2 $r3 $r4 2>/dev/null
wait $r1 $r2 $r3 $r4 2>/dev/null
echo "RELIABILITY load-cycles $BENCH_KID insmod_rmmod=$LOADS failures=$bad readers_alive=$alive"
expect_eq rel.insmod-rmmod-armed-under-load "$bad,$alive" "0,0"

# 3. leases end on time: lateness of a 1 s lease, from the module's own
#    arm and end events (CLOCK_BOOTTIME, ns): no polling error in the figure
worst=0 bad=""
for n in 1 2 3; do
    id=$(vfs-read-fi arm --comm fi-probe --duration 1s --replace)
    i=0
    while vfs-read-fi status | grep -q '^state *armed' && [ $i -lt 400 ]; do sleep 0.01; i=$((i + 1)); done
    ev=$(vfs-read-fi events --json --experiment "$id")
    t_arm=$(echo "$ev" | grep '"type":"arm"' | sed -n 's/.*"time_ns":\([0-9]*\).*/\1/p')
    t_end=$(echo "$ev" | grep '"type":"end"' | sed -n 's/.*"time_ns":\([0-9]*\).*/\1/p')
    if [ -z "$t_arm" ] || [ -z "$t_end" ]; then bad="$bad attempt $n: no arm/end event;"; continue; fi
    late=$(((t_end - t_arm) / 1000000 - 1000))
    [ $late -gt $worst ] && worst=$late
done
[ -z "$bad" ] || fail rel.lease-events "$bad"
echo "RELIABILITY lease $BENCH_KID worst_lateness_ms=$worst"
# The < 100 ms lateness target is a figure (RELIABILITY line above, and
# RELIABILITY.md), not a timed test; the test is that the lease ends by itself.
if [ $worst -lt 2000 ]; then pass rel.lease-ends-by-itself; else fail rel.lease-ends-by-itself "worst lateness ${worst} ms"; fi
vfs-read-fi arm --comm fi-probe --duration 0 --replace >/dev/null
vfs-read-fi unload
expect_eq rel.no-lease-ends-on-rmmod "$(mod_loaded file-read-fi && echo loaded || echo gone)" gone

# 4. two tools armed at once on different hooks; two processes arming one tool
vfs-read-fi arm --comm fi-probe --path $F >/dev/null
vfs-write-fi arm --comm fi-probe --path $F >/dev/null
r=$(fi-probe read $F --count 2 --size 1)
w=$(fi-probe append $F --count 2 --size 1)
expect_eq rel.two-tools-at-once "$(kv err "$r"),$(kv first_errno "$r"),$(kv err "$w"),$(kv first_errno "$w")" "2,EIO,2,ENOSPC"
vfs-read-fi arm --comm other --path $F >/tmp/busy.out 2>&1
rc=$?
if [ $rc = 1 ] && grep -q 'already armed' /tmp/busy.out; then pass rel.second-arm-refused; else fail rel.second-arm-refused "rc=$rc $(cat /tmp/busy.out)"; fi
r=$(fi-probe read $F --count 1 --size 1)
expect_eq rel.refused-arm-left-first-intact "$(kv err "$r")" 1
vfs-read-fi arm --comm other --path $F --replace >/dev/null
r=$(fi-probe read $F --count 1 --size 1)
expect_eq rel.replace-takes-over "$(kv err "$r")" 0
vfs-read-fi unload; vfs-write-fi unload

bad=$(dmesg_bad)
if [ -z "$bad" ]; then pass rel.no-oops; else fail rel.no-oops "$bad"; fi
