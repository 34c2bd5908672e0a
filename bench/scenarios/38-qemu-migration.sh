#!/bin/sh
# bench-timeout: 360
# bench-needs: qemu
# A real live migration between two QEMUs in the guest (the destination with
# -incoming, `migrate` over QMP until completed), then guest RAM of the
# paused source and destination compared page by page (pmemsave). Unarmed,
# no page differs. With dirty-log-fi armed for the source, the destination
# is corrupted: the payload keeps writing its 112 pages, and pages whose
# dirty bits were dropped (and, with the manual dirty-log protection QEMU
# uses, cleared in KVM too) are never sent again. Figures in BENCH-QEMU-MIG
# lines (pages written, bits dropped, pages differing, time).
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=dirty-log-fi
P=qemu.migration

require_qemu $P
dmesg_mark
# 1. unarmed: the destination's RAM equals the paused source's.
if qemu_migrate_compare clean; then
    echo "BENCH-QEMU-MIG $BENCH_KID clean: time=${MIG_S}s passes=$PASSES pages_differ=$DIFF"
    expect_eq $P.clean-0-pages-differ "$DIFF" 0
fi

# 2. armed for the source: every second dirty bit dropped.
if qemu_migrate_compare armed "--drop-ratio 0.5"; then
    dropped=$(st bits-dropped)
    cleared=$(st bits-cleared-in-kvm)
    seen=$(st bits-seen)
    ring=$(st ring-resets-seen)
    echo "BENCH-QEMU-MIG $BENCH_KID armed drop 0.5: time=${MIG_S}s passes=$PASSES bits_seen=$seen bits_dropped=$dropped bits_cleared_in_kvm=$cleared pages_differ=$DIFF ring_resets=$ring"
    echo "differing pages (page index from RAM start): $(tr '\n' ' ' </tmp/armed.pages | cut -c1-300)"
    echo "status: $($T status | tr '\n' ' ')"
    expect_ge $P.armed-pages-differ "$DIFF" 1
    expect_ge $P.armed-bits-dropped "$dropped" 1
    # every differing page is one whose bit was dropped: no more pages differ
    # than bits were dropped, and all lie in the payload's pages (and the
    # page of its pass counter)
    if [ "$DIFF" -le "$dropped" ]; then pass $P.armed-explained-by-drops; else fail $P.armed-explained-by-drops "$DIFF pages differ, $dropped bits dropped"; fi
    first=$(((QEMU_PAGES - QEMU_RAM_BASE) / 4096))
    prog=$(((QEMU_PROGRESS - QEMU_RAM_BASE) / 4096))
    odd=$(awk -v a="$first" -v b="$((first + 111))" -v p="$prog" '$1 != p && ($1 < a || $1 > b)' /tmp/armed.pages | head -n 3 | tr '\n' ' ')
    expect_eq $P.armed-only-payload-pages "$odd" ""
    # QEMU uses manual dirty-log protection on these kernels: the drops were
    # cleared in KVM too (otherwise they would only be delayed)
    expect_eq $P.armed-manual-protect-cleared "$cleared" "$dropped"
    expect_ge $P.armed-events "$(FI=$T exp_events "$(tail -n 1 /tmp/arm.out)" "comm=$QEMU_COMM what=dirty bits drop " | cut -d, -f1)" 1
fi

# 3. the dirty ring (x86_64 from 5.11: QEMU 7.2 knows KVM_CAP_DIRTY_LOG_RING, not the
# ACQ_REL variant arm64 has): QEMU reads per-vCPU rings, never
# KVM_GET_DIRTY_LOG; the fault cannot act and says so by its counters, the
# migration stays intact.
if [ "$BENCH_ARCH" = x86_64 ] && ! kallsyms_has kvm_dirty_ring_push && ! kallsyms_has kvm_dirty_ring_alloc; then
    # KVM has no dirty ring before 5.11: QEMU asked for one falls back to
    # KVM_GET_DIRTY_LOG, where the fault acts as in 2.
    export QEMU_ACCEL=kvm,dirty-ring-size=4096
    if migrate_once ring "--drop-ratio 0.5"; then
        echo "BENCH-QEMU-MIG $BENCH_KID dirty ring asked, kernel has none (bitmap), armed drop 0.5: time=${MIG_S}s passes=$PASSES bits_seen=$(st bits-seen) bits_dropped=$(st bits-dropped) pages_differ=$DIFF"
        expect_ge $P.ring-absent-bitmap-drops "$(st bits-dropped)" 1
        if [ "$DIFF" -le "$(st bits-dropped)" ]; then pass $P.ring-absent-explained-by-drops; else fail $P.ring-absent-explained-by-drops "$DIFF pages differ, $(st bits-dropped) bits dropped"; fi
    fi
    unset QEMU_ACCEL
elif [ "$BENCH_ARCH" = x86_64 ]; then
    export QEMU_ACCEL=kvm,dirty-ring-size=4096
    if qemu_migrate_compare ring "--drop-ratio 0.5"; then
        echo "BENCH-QEMU-MIG $BENCH_KID dirty ring, armed drop 0.5: time=${MIG_S}s passes=$PASSES bits_seen=$(st bits-seen) ring_resets=$(st ring-resets-seen) pages_differ=$DIFF"
        expect_eq $P.ring-not-covered "$(st bits-seen),$(st bits-dropped),$DIFF" "0,0,0"
        expect_ge $P.ring-resets-counted "$(st ring-resets-seen)" 1
    fi
    unset QEMU_ACCEL
else
    skip $P.ring-not-covered "QEMU 7.2 has no dirty ring on arm64 (KVM_CAP_DIRTY_LOG_RING_ACQ_REL)"
fi
$T unload

if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
