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
if [ "$BENCH_ARCH" = arm64 ]; then RAM_BASE=0x40000000; else RAM_BASE=0; fi
RAM=$((16 << 20))

# migrate_once TAG [ARM-ARGS]: source and destination, migration, compare
# (QEMU_ACCEL for both, see lib.sh).
# Sets DIFF (pages differing), MIG_S (seconds), PASSES (payload passes when
# the source stopped).
migrate_once() {
    _tag=$1 _arm=${2:-}
    qemu_start "$_tag-dst" -S -incoming "unix:/tmp/$_tag.mig"
    _dst=$QPID
    qemu_start "$_tag-src"
    _src=$QPID
    DIFF=-1 MIG_S=-1 PASSES=-1
    if ! qemu_wait_up "$_tag-src" || ! qemu_wait_up "$_tag-dst" paused; then
        fail "$P.$_tag-up" "QEMU did not start: $(head -c 200 "/tmp/$_tag-src.err") $(head -c 200 "/tmp/$_tag-dst.err")"
        kill -9 "$_src" "$_dst" 2>/dev/null
        return 1
    fi
    # shellcheck disable=SC2086 # word splitting of the arm options intended
    [ -z "$_arm" ] || $T arm --tgid "$_src" $_arm >/tmp/arm.out
    sleep 1
    _t0=$(date +%s)
    qmp "/tmp/$_tag-src.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"unix:/tmp/$_tag.mig\"}}" >/dev/null
    _i=0 _st=""
    while [ "$_i" -lt 600 ]; do
        _st=$(qmp "/tmp/$_tag-src.qmp" '{"execute":"query-migrate"}' | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p')
        case "$_st" in completed | failed | cancelled) break ;; esac
        sleep 0.2
        _i=$((_i + 1))
    done
    MIG_S=$(($(date +%s) - _t0))
    qmp "/tmp/$_tag-src.qmp" '{"execute":"query-migrate"}' >"/tmp/$_tag.migrate"
    expect_eq "$P.$_tag-completed" "$_st" completed
    [ -z "$_arm" ] || $T off
    PASSES=$(qemu_passes "$_tag-src")
    for _s in src dst; do
        qmp "/tmp/$_tag-$_s.qmp" "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":$((RAM_BASE)),\"size\":$RAM,\"filename\":\"/tmp/$_tag-$_s.mem\"}}" >/dev/null
    done
    DIFF=$(cmp -l "/tmp/$_tag-src.mem" "/tmp/$_tag-dst.mem" | awk '{ print int(($1 - 1) / 4096) }' | uniq | tee "/tmp/$_tag.pages" | wc -l)
    rm -f "/tmp/$_tag-src.mem" "/tmp/$_tag-dst.mem"
    kill -9 "$_src" "$_dst" 2>/dev/null
    wait "$_src" "$_dst" 2>/dev/null
    return 0
}

# 1. unarmed: the destination's RAM equals the paused source's.
if migrate_once clean; then
    echo "BENCH-QEMU-MIG $BENCH_KID clean: time=${MIG_S}s passes=$PASSES pages_differ=$DIFF"
    expect_eq $P.clean-0-pages-differ "$DIFF" 0
fi

# 2. armed for the source: every second dirty bit dropped.
if migrate_once armed "--drop-ratio 0.5"; then
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
    first=$(((QEMU_PAGES - RAM_BASE) / 4096))
    prog=$(((QEMU_PROGRESS - RAM_BASE) / 4096))
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
    if migrate_once ring "--drop-ratio 0.5"; then
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
