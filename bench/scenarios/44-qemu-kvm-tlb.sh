#!/bin/sh
# bench-timeout: 300
# bench-needs: qemu
# tlb-flush-fi kvm / kvm-tlb-fi.ko: KVM's remote TLB flushes for a QEMU's VM
# are suppressed, on x86_64 and arm64. A live migration of QEMU (to
# exec:cat, so one QEMU is enough) write-protects the payload's pages over
# and over (dirty logging, KVM_CLEAR_DIRTY_LOG), each time ending in a
# remote TLB flush:
#   - unarmed: KVM's own per-VM statistics (debugfs kvm/PID-FD/
#     remote_tlb_flush_requests, remote_tlb_flush) grow, or, where the
#     flushes of dirty logging are ranged (arm64 from 6.6: not counted
#     there), the probe's hits show the calls;
#   - armed for that QEMU: the statistics stop growing while the tool counts
#     every suppressed call (injected = events, all in QEMU, by kind);
#   - the migration completes, the guest runs on after `off`; clean dmesg;
#   - a migration between two QEMUs with the source's flushes suppressed:
#     pages that differ, where the vCPU's TLB kept a writable translation.
# Figures in a BENCH-QEMU-TLB line.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T="tlb-flush-fi kvm"
P=qemu.kvm-tlb

require_qemu $P
dmesg_mark
t_start=$(date +%s)

# vm_stat PID NAME: KVM's statistic NAME of QEMU PID's VM (debugfs kvm/PID-FD/).
vm_stat() {
    for _d in /sys/kernel/debug/kvm/"$1"-*; do
        [ -r "$_d/$2" ] && { cat "$_d/$2"; return 0; }
    done
    echo 0
}
# migration TAG [ARM-ARGS]: a QEMU, armed (when ARM-ARGS) or armed for
# nobody (a stopped process: the probe counts every flush as a hit and acts
# on none), migrated; sets REQ and FLUSH (statistics' growth), HITS,
# INJECTED, MIG_END, ALIVE (the guest progresses after `off` and `cont`).
migration() {
    _tag=$1 _arm=${2:-}
    qemu_start "$_tag"
    REQ=-1 FLUSH=-1 HITS=-1 INJECTED=-1 MIG_END=- ALIVE=no
    if ! qemu_wait_up "$_tag"; then
        fail "$P.$_tag-up" "QEMU did not start: $(head -c 300 "/tmp/$_tag.err")"
        qemu_stop
        return 1
    fi
    if [ -n "$_arm" ]; then
        # shellcheck disable=SC2086 # word splitting of the arm options intended
        $T arm --tgid "$QPID" $_arm >/tmp/arm.out
    else
        $T arm --tgid "$IDLE" --duration 2m >/tmp/arm.out
    fi
    _r0=$(vm_stat "$QPID" remote_tlb_flush_requests) _f0=$(vm_stat "$QPID" remote_tlb_flush)
    MIG_END=$(qemu_migrate "$_tag" "exec:cat >/dev/null")
    REQ=$(($(vm_stat "$QPID" remote_tlb_flush_requests) - _r0))
    FLUSH=$(($(vm_stat "$QPID" remote_tlb_flush) - _f0))
    HITS=$(st hits) INJECTED=$(st injected)
    cp /tmp/arm.out "/tmp/$_tag.arm"
    $T off
    qmp "/tmp/$_tag.qmp" '{"execute":"cont"}' >/dev/null
    qemu_progresses "$_tag" && ALIVE=yes
    qemu_stop
    echo "BENCH-QEMU-TLB tag=$_tag migration=$MIG_END remote_tlb_flush_requests=+$REQ remote_tlb_flush=+$FLUSH hits=$HITS injected=$INJECTED guest-after=$ALIVE"
}

# A process the unarmed run's fault is scoped to: nothing KVM does is in it.
sh -c 'kill -STOP $$; exec sleep 300' &
IDLE=$!
wait_stopped "$IDLE"

# 0. This kernel's functions.
out=$($T support 2>&1)
echo "support: $out"
expect_match "$P.supported" "$out" '^supported: .* KVM remote TLB flushes at kvm_flush_remote_tlbs'

# 1. Unarmed (armed for an idle process): the flushes happen and are counted.
migration base
expect_eq "$P.base-migration" "$MIG_END" completed
expect_eq "$P.base-none-suppressed" "$INJECTED" 0
expect_ge "$P.base-flushes-seen" "$HITS" 1
base_req=$REQ base_flush=$FLUSH base_hits=$HITS

# 2. Armed for the QEMU: every flush of its VM in its threads is suppressed.
migration armed "--duration 2m"
expect_eq "$P.armed-migration" "$MIG_END" completed
expect_ge "$P.armed-suppressed" "$INJECTED" 1
expect_eq "$P.armed-stat-frozen" "$REQ,$FLUSH" 0,0
# where this kernel counts the flushes of dirty logging (5.10 has only
# remote_tlb_flush), the unarmed migration counted some, so the frozen statistic is the fault's doing
if [ "$base_req" -ge 1 ] || [ "$base_flush" -ge 1 ]; then
    pass "$P.stat-grows-unarmed"
else
    skip "$P.stat-grows-unarmed" "this kernel counts none of a migration's flushes (ranged flushes: $base_hits calls seen)"
fi
# every suppressed call is an event in QEMU (the ring keeps the last 1024)
expect_exp_events "$P.armed-events" "$(tail -n 1 /tmp/armed.arm)" "$(in_ring "$INJECTED")" \
    " comm=$QEMU_COMM what=(flush|range)-skipped "
full=$(grep -c 'what=flush-skipped ' /tmp/events.out)
echo "suppressed: $INJECTED ($full whole-VM flushes, $((INJECTED - full)) ranged, in the last 1024 events)"
expect_eq "$P.guest-runs-after-off" "$ALIVE" yes
matrix_row "tlb-flush-fi kvm" "$P.armed-stat-frozen" symbol range_symbol

# 3. The dirty-logging effect: a live migration between two QEMUs with the
#    source's flushes suppressed, guest RAM compared (38 shows 0 pages differ
#    unarmed). A page differs only if the vCPU kept writing through a
#    writable translation cached before KVM write-protected the page, which
#    depends on the CPU's (here: the emulated CPU's) TLB keeping it.
if qemu_migrate_compare mig "--duration 2m"; then
    echo "BENCH-QEMU-TLB migration between two QEMUs, source's flushes suppressed: time=${MIG_S}s passes=$PASSES suppressed=$(st injected) pages_differ=$DIFF"
    if [ "$DIFF" -ge 1 ]; then
        pass "$P.migration-missed-writes"
    else
        skip "$P.migration-missed-writes" "no page differs after $(st injected) suppressed flushes: the vCPU's TLB kept no writable translation across KVM's write-protection (the bench's emulated CPU)"
    fi
fi

kill -9 "$IDLE" 2>/dev/null
wait "$IDLE" 2>/dev/null
$T unload
echo "BENCH-QEMU-TLB seconds=$(($(date +%s) - t_start))"
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
