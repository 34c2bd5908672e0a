#!/bin/sh
# bench-timeout: 300
# dirty-log-fi (vm-migration-fi.ko): a simulated pre-copy migration by the
# test VMM. Armed, the destination misses exactly the pages whose dirty bits
# were dropped (the share configured); unarmed, none. The guest is unharmed.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=dirty-log-fi
P=kvm.dirty-log

require_test_vmm $P
dmesg_mark

# 0. unarmed: every written page is reported, source == destination.
base=$(test-vmm migrate --pages 200 --rounds 4)
echo "unarmed: $base"
expect_eq $P.baseline "$(kv guest "$base"),$(kv dirty_reported "$base"),$(kv mismatched "$base")" "ok,200,0"

# 1. every 4th dirty bit dropped: a quarter of the pages never reach the destination.
out=$(vmm "--drop-ratio 0.25" migrate --pages 200 --rounds 4)
echo "drop 25%: $out"
echo "status: $($T status | tr '\n' ' ')"
expect_eq $P.arm-rc "$(cat /tmp/arm.rc)" 0
seen=$(st bits-seen)
dropped=$(st bits-dropped)
mism=$(kv mismatched "$out")
expect_eq $P.mismatch-detected "$mism" "$dropped"
expect_eq $P.share-every-4th "$dropped" $((seen / 4))
expect_ge $P.share-at-least-49 "$mism" 49
expect_eq $P.reported-plus-lost "$(($(kv dirty_reported "$out") + mism))" 200
expect_eq $P.guest-unharmed "$(kv guest "$out")" ok
expect_ge $P.hook-hits "$(st hits)" 5
matrix_row $T $P.mismatch-detected
# one event per spoiled KVM_GET_DIRTY_LOG, of this experiment and this VMM;
# their values add up to the pages the destination misses
expect_events $P.events "$(st injected)" "$(armed_event 'dirty bits dropped' '[0-9]+')"
expect_eq $P.events-sum-mismatch "$(events_sum)" "$mism"
$T off

# 2. random choice with a seed: the mismatch still equals the bits dropped.
out=$(vmm "--drop-ratio 50% --seed 7" migrate --pages 200 --rounds 4)
dropped=$(st bits-dropped)
expect_eq $P.random-mismatch "$(kv mismatched "$out")" "$dropped"
if [ "$dropped" -gt 60 ] && [ "$dropped" -lt 140 ]; then pass $P.random-share; else fail $P.random-share "dropped $dropped of ~200 at 50%"; fi
expect_events $P.random-events "$(st injected)" "$(armed_event 'dirty bits dropped' '[0-9]+')"
expect_eq $P.random-events-sum-mismatch "$(events_sum)" "$(kv mismatched "$out")"
$T off

# 3. --slot 1: slot 0's bitmaps are untouched.
out=$(vmm "--drop-ratio 1 --slot 1" migrate --pages 64 --rounds 2)
expect_eq $P.other-slot-untouched "$(kv mismatched "$out"),$(st bits-seen)" "0,0"
$T off

# 4. --add-ratio: spurious dirty pages, harmless for the copy.
out=$(vmm "--add-ratio 0.1" migrate --pages 64 --rounds 2)
expect_eq $P.add-no-mismatch "$(kv mismatched "$out")" 0
expect_ge $P.add-bits "$(st bits-added)" 10
$T off

# 5. --times 1 spoils exactly one KVM_GET_DIRTY_LOG that had dirty bits.
out=$(vmm "--drop-ratio 1 --times 1" migrate --pages 200 --rounds 4)
expect_eq $P.times-1 "$(kv mismatched "$out")" 50
# one event, with the bits that call lost: the 50 pages, and on x86_64 the
# guest program's page, which KVM reports once and which never differs
expect_events $P.times-1-event 1 "$(armed_event 'dirty bits dropped' "$(st bits-dropped)")"
expect_ge $P.times-1-event-covers-mismatch "$(events_sum)" 50
sleep 0.2
expect_eq $P.times-self-disarm "$(st state)" disarmed

# 6. legacy /proc/vm-migration-fi/signal: 1 drops every 2nd bit of the next
# dirty log of any process, once; 0 disarms (the original could not).
echo 1 >/proc/vm-migration-fi/signal
out=$(test-vmm migrate --pages 200 --rounds 4)
expect_eq $P.legacy-once "$(kv mismatched "$out")" 25
echo 1 >/proc/vm-migration-fi/signal
echo 0 >/proc/vm-migration-fi/signal
expect_eq $P.legacy-disarm "$(cat /proc/vm-migration-fi/signal)" 0
out=$(test-vmm migrate --pages 64 --rounds 2)
expect_eq $P.legacy-disarmed-clean "$(kv mismatched "$out")" 0
if dmesg_since | grep -q '\[ARM-Mig-Fi\].*injected'; then pass $P.legacy-dmesg-tag; else fail $P.legacy-dmesg-tag "no [ARM-Mig-Fi] line"; fi

$T unload
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
