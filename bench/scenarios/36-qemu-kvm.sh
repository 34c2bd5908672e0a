#!/bin/sh
# bench-timeout: 420
# bench-needs: qemu
# The KVM tools as a QEMU user sees them: Debian's QEMU 7.2 runs a tiny
# payload with -accel kvm inside the guest (nested SVM on x86_64, VHE on
# arm64), driven over QMP; each fault shows as QEMU's own error line, its
# exit signal, or the guest's progress, with the tool's hit counts and events.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
P=qemu

require_qemu $P
dmesg_mark

# 0. QEMU boots the payload under KVM and the payload makes progress.
t0=$(date +%s)
qemu_start base
if qemu_wait_up base; then
    pass $P.boots
    echo "qemu up in $(($(date +%s) - t0)) s: $(tr -d "\r" </tmp/base.serial)"
else
    fail $P.boots "QEMU did not start the payload: $(head -c 300 /tmp/base.err)"
    qemu_stop
    exit 0
fi
if qemu_progresses base; then pass $P.progress; else fail $P.progress "passes $QEMU_PROGRESS_SEEN"; fi
echo "payload passes: $QEMU_PROGRESS_SEEN"
qemu_stop

# qemu_armed NAME TOOL ARM-ARGS [QEMU-OPTIONS...]: QEMU instance NAME, armed
# with TOOL for its pid before it runs; waits for it to end (up to 60 s) and
# leaves its exit status in QRC (128+N: killed by signal N) and the arm's
# output in /tmp/arm.out.
qemu_armed() {
    _name=$1 _tool=$2 _arm=$3
    shift 3
    qemu_start_stopped "$_name" "$@"
    echo "$QPID" >/tmp/armed.pid
    # shellcheck disable=SC2086 # word splitting of the arm options intended
    $_tool arm --tgid "$QPID" $_arm >/tmp/arm.out 2>&1 || echo "arm failed: $(cat /tmp/arm.out)"
    kill -CONT "$QPID"
    _i=0
    while [ -d "/proc/$QPID" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$QPID/status" 2>/dev/null &&
        [ "$_i" -lt 300 ]; do
        sleep 0.2
        _i=$((_i + 1))
    done
    kill -9 "$QPID" 2>/dev/null
    wait "$QPID"
    QRC=$?
    echo "$_name: rc=$QRC stderr: $(head -c 400 "/tmp/$_name.err" | tr '\n' '|')"
}

# 1. kvm-version-fi: QEMU reads API version 11 and refuses KVM.
T=kvm-version-fi
qemu_armed ver $T "--api-version 11"
expect_match $P.version-refused "$(cat /tmp/ver.err)" 'kvm version too old'
expect_eq $P.version-qemu-exit "$QRC" 1
expect_events $P.version-events 1 "comm=$QEMU_COMM .*value=11 "
$T unload

# 2. kvm-ioctl-fi: QEMU cannot create its vCPU and says so (arm64: the first
# is the scratch vCPU with which -cpu host probes the host CPU: "Failed to
# retrieve host CPU features").
T=kvm-ioctl-fi
qemu_armed vcpu $T "--cmd KVM_CREATE_VCPU"
expect_match $P.ioctl-create-vcpu "$(cat /tmp/vcpu.err)" 'kvm_get_vcpu failed .*Operation not permitted|Failed to retrieve host CPU features'
expect_eq $P.ioctl-qemu-exit "$QRC" 1
expect_ge $P.ioctl-injected "$(st injected)" 1
$T off
# KVM_RUN failing with EINTR while the guest runs: QEMU retries at once, the
# guest runs on. The payload never exits to QEMU by itself, so `info
# registers` kicks the vCPU out of KVM_RUN; the next 3 entries fail.
qemu_start run
if qemu_wait_up run; then
    $T arm --tgid "$QPID" --cmd KVM_RUN --errno EINTR --times 3 >/tmp/arm.out
    qmp /tmp/run.qmp 'hmp:info registers' 'hmp:info registers' >/dev/null
    if qemu_progresses run; then pass $P.ioctl-run-eintr-survived; else fail $P.ioctl-run-eintr-survived "passes $QEMU_PROGRESS_SEEN"; fi
    expect_eq $P.ioctl-run-eintr-injected "$(st injected)" 3
    expect_events $P.ioctl-run-eintr-events 3 "comm=$QEMU_COMM .*value=-4 "
else
    fail $P.ioctl-run-eintr-survived "QEMU did not start: $(head -c 300 /tmp/run.err)"
fi
qemu_stop
$T unload

# 3. memslot-fi: QEMU's memory registration fails; it reports the slot and
# aborts (SIGABRT, 134).
T=memslot-fi
qemu_armed mem $T "--region"
expect_match $P.memslot-region "$(cat /tmp/mem.err)" 'KVM_SET_USER_MEMORY_REGION failed|error registering slot'
expect_ge $P.memslot-injected "$(st injected)" 1
$T unload

# 4. cpu-reg-main: the first thread QEMU creates starts with a corrupted
# program counter; QEMU dies of SIGSEGV (139) before the guest runs.
qemu_armed reg cpu-reg-main "--reg pc --flip-bit 45 --times 1"
expect_eq $P.cpu-reg-sigsegv "$QRC" 139
if [ -s /tmp/reg.serial ]; then fail $P.cpu-reg-no-guest "the payload ran: $(cat /tmp/reg.serial)"; else pass $P.cpu-reg-no-guest; fi
cpu-reg-main events | grep ' inject ' | tail -n 1
cpu-reg-main unload

# 5. mm-fault-fi over QEMU's guest-RAM mapping: QEMU is paused (-S) so the
# payload's pages are not yet populated; armed over that range (from
# /proc/PID/maps), KVM's fault-in of guest memory fails: KVM_RUN returns
# EFAULT, QEMU reports it and stops the guest.
T=mm-fault-fi
# shellcheck disable=SC2086 # word splitting of the options intended
qemu_start mm -S $QEMU_MEMFD_RAM
if qemu_wait_up mm paused; then
    range=$(qemu_ram_range "$QPID")
    echo "guest RAM of QEMU $QPID: $range"
    if [ -n "$range" ]; then
        $T arm --tgid "$QPID" --addr-range "$range" --result sigsegv >/dev/null
        qmp /tmp/mm.qmp '{"execute":"cont"}' >/dev/null
        sleep 3
        if grep -q '^State:[[:space:]]*Z' "/proc/$QPID/status" 2>/dev/null; then
            wait "$QPID"
            echo "QEMU $QPID is gone: rc=$?, stderr: $(head -c 300 /tmp/mm.err)"
        fi
        expect_match $P.mm-fault-kvm-run "$(cat /tmp/mm.err)" 'kvm run failed Bad address'
        expect_ge $P.mm-fault-injected "$(st injected)" 1
        $T off
        expect_match $P.mm-fault-guest-stopped "$(qmp /tmp/mm.qmp '{"execute":"query-status"}')" '"status": "internal-error"'
    else
        fail $P.mm-fault-kvm-run "no guest-RAM mapping in /proc/$QPID/maps: $(tr '\n' ' ' <"/proc/$QPID/maps" | cut -c1-600)"
    fi
else
    fail $P.mm-fault-kvm-run "QEMU -S did not come up: $(head -c 300 /tmp/mm.err)"
fi
qemu_stop
$T unload

if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
