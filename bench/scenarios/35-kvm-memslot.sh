#!/bin/sh
# bench-timeout: 240
# memslot-fi (memory.ko): memory regions fail for the VMM (class 1, at the
# memory-region function that really fires on this kernel), and guest frames
# become unbacked for a chosen range (class 2): the guest's access to them
# turns into an MMIO exit. Hit counts prove the hooks fire.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=memslot-fi
P=kvm.memslot

require_test_vmm $P
dmesg_mark

# 1. every memory region of the VMM fails with ENOMEM; another VMM is fine.
out=$(vmm "--region" memslot --count 2)
echo "region: $out; arm: $(cat /tmp/arm.out)"
echo "status: $($T status | tr '\n' ' ')"
expect_eq $P.arm-rc "$(cat /tmp/arm.rc)" 0
expect_eq $P.region-enomem "$(kv regions_ok "$out"),$(kv regions_err "$out"),$(kv errno "$out")" "0,2,ENOMEM"
expect_ge $P.region-hook-hits "$(st hits)" 2
matrix_row $T $P.region-enomem symbol region2_symbol
expect_eq $P.region-injected "$(st injected)" 2
expect_events $P.region-events 2 "$(armed_event 'memory region error' -12)"
other=$(test-vmm memslot --count 2)
expect_eq $P.other-vmm-ok "$(kv regions_ok "$other")" 2
$T off

# 2. --slot 1 only, another errno.
out=$(vmm "--region --slot 1 --errno EFAULT" memslot --count 3)
expect_eq $P.region-slot-1 "$(kv regions_ok "$out"),$(kv regions_err "$out"),$(kv errno "$out")" "2,1,EFAULT"
expect_events $P.region-slot-1-event 1 "$(armed_event 'memory region error' -14)"
$T off

# 3. class 2: the guest frame of data page 18 cannot be translated. arm64
# (gfn_to_hva_memslot_prot): KVM takes it for unbacked, the guest's access
# becomes an MMIO exit at that address. x86_64 (__gfn_to_pfn_memslot): the
# guest's page fault fails, KVM_RUN returns EFAULT to the VMM.
if [ "$BENCH_ARCH" = arm64 ]; then base=0x40000000; else base=0; fi
gpa=$((base + 18 * 4096))
gfn=$((gpa / 4096))
out=$(vmm "--gfn $gfn" run --pages 8)
echo "gfn: $out"
echo "status: $($T status | tr '\n' ' ')"
if [ "$BENCH_ARCH" = arm64 ]; then
    expect_eq $P.gfn-mmio-exit "$(kv first_unexpected "$out")" "$(printf '0x%x' $gpa)"
else
    expect_match $P.gfn-run-efault "$out" 'run=EFAULT'
fi
expect_ge $P.gfn-hook-injected "$(st injected)" 1
expect_ge $P.gfn-hook-hits "$(st hits)" 1
if [ "$BENCH_ARCH" = arm64 ]; then matrix_row $T $P.gfn-mmio-exit gfn_symbol; else matrix_row $T $P.gfn-run-efault gfn_symbol; fi
# every failed translation is an event naming the frame
expect_events $P.gfn-events "$(st injected)" "$(armed_event 'no memory for gfn' $gfn)"
$T off
out=$(test-vmm run --pages 8)
expect_eq $P.gfn-after-off "$(kv guest "$out"),$(kv unexpected "$out")" "ok,0"

# 4. legacy /proc/memory-manage-fi: class 1, type 0 = plain failure, time 1.
echo 1 >/proc/memory-manage-fi/class && echo 0 >/proc/memory-manage-fi/type &&
    echo 1 >/proc/memory-manage-fi/time && echo 1 >/proc/memory-manage-fi/signal
out=$(test-vmm memslot --count 2)
expect_eq $P.legacy-region "$(kv regions_ok "$out"),$(kv regions_err "$out")" "1,1"
if echo 1 >/proc/memory-manage-fi/position 2>/dev/null && echo 1 >/proc/memory-manage-fi/type &&
    ! echo 1 >/proc/memory-manage-fi/signal 2>/dev/null; then
    pass $P.legacy-pointer-refused
else
    fail $P.legacy-pointer-refused "position 1 (a kernel pointer) was accepted"
fi
echo 0 >/proc/memory-manage-fi/signal
if dmesg_since | grep -q '\[ARM-Mem-Fi\].*injected'; then pass $P.legacy-dmesg-tag; else fail $P.legacy-dmesg-tag "no [ARM-Mem-Fi] line"; fi

$T unload
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
