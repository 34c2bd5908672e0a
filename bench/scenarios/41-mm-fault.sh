#!/bin/sh
# bench-timeout: 240
# mm-fault-fi / pt-load-fi.ko: page faults of the target fail.
#   - touching fresh pages in --addr-range: SIGSEGV or SIGBUS;
#   - outside the range, and in other processes: nothing changes;
#   - a kernel-mode access (read(2) into a fresh buffer): EFAULT, no crash;
#   - oom: the fault is retried (no OOM kill since 5.16), N times with --times N;
#   - the original pt-load-fi-main program and /proc knobs.
# mm-test touch/read-into map fresh pages at a fixed address (bench/guest-tools).
. /bench/lib.sh

T=mm-fault
if ! has_kmod pt-load-fi; then
    skip "$T" "pt-load-fi.ko not built for this kernel"
    exit 0
fi
export KVMFI_MODULE_DIR="$KMODS"
A=0x20000000 # the target's range: 16 pages at A
B=0x30000000 # outside the range
RANGE=$A+64k
dmesg_mark

status_field() { mm-fault-fi status | awk -v k="$1" '$1 == k { print $2 }'; }
stopped() {
    sh -c 'kill -STOP $$; exec "$@"' sh "$@" >/tmp/mm-fault.out 2>&1 &
    P=$!
    wait_stopped "$P" || fail "$T.setup" "process $P did not stop"
}
finish() {
    kill -CONT "$P"
    wait "$P"
    RC=$?
    OUT=$(cat /tmp/mm-fault.out)
}
# arm ARGS...: arm for the stopped target $P in RANGE, replacing any fault.
arm() { mm-fault-fi arm --tgid "$P" --addr-range "$RANGE" --replace "$@" >/dev/null; }

# 0. Baseline.
expect_eq "$T.baseline" "$(mm-test touch --addr $A --pages 16)" "touched=16"

# 1. sigsegv in the range.
stopped mm-test touch --addr $A --pages 16
arm --result sigsegv
finish
expect_eq "$T.sigsegv" "$RC" 139
# (2 for a Rust program: its SIGSEGV handler resets to SIG_DFL and retries.)
expect_ge "$T.sigsegv-injected" "$(status_field injected)" 1
expect_ge "$T.sigsegv-hits" "$(status_field hits)" 1
matrix_row mm-fault-fi "$T.sigsegv"
# Every injection is an event naming the target (the shared core).
expect_ge "$T.sigsegv-events" "$(mm-fault-fi events | grep ' inject ' | grep -c "tgid=$P ")" 1

# 2. sigbus in the range.
stopped mm-test touch --addr $A --pages 16
arm --result sigbus
finish
expect_eq "$T.sigbus" "$RC" 135

# 3. Outside the range nothing changes (same process, other address).
stopped mm-test touch --addr $B --pages 16
arm --result sigsegv
finish
expect_eq "$T.outside-range" "$RC:$OUT" "0:touched=16"
expect_eq "$T.outside-range-injected" "$(status_field injected)" 0
expect_ge "$T.outside-range-hits" "$(status_field hits)" 16

# 4. Other processes touching the same range are unaffected.
stopped mm-test touch --addr $A --pages 16
arm --result sigsegv
other=$(mm-test touch --addr $A --pages 16; echo "rc=$?")
expect_eq "$T.other-process" "$(echo "$other" | tr "\n" " " | sed "s/ $//")" "touched=16 rc=0"
expect_eq "$T.other-process-not-matched" "$(status_field matched)" 0
finish
expect_eq "$T.target-still-hit" "$RC" 139

# 5. Kernel-mode access: read(2) into fresh pages in the range -> EFAULT.
head -c 16384 /dev/zero >/tmp/mm-fault.dat
stopped mm-test read-into --addr $A --pages 4 /tmp/mm-fault.dat
arm --result sigsegv
finish
expect_eq "$T.kernel-access-efault" "$RC:$OUT" "0:read=-1 errno=EFAULT"
expect_ge "$T.kernel-access-injected" "$(status_field injected)" 1

# 6. oom: retried, 20 times, then the page comes and the program finishes.
stopped mm-test touch --addr $A --pages 1
arm --result oom --times 20
finish
expect_eq "$T.oom-retried-then-ok" "$RC:$OUT" "0:touched=1"
expect_eq "$T.oom-injected" "$(status_field injected)" 20
if dmesg_since | grep -q 'Huh VM_FAULT_OOM leaked out to the #PF handler'; then
    pass "$T.oom-kernel-retries"
else
    fail "$T.oom-kernel-retries" "no 'VM_FAULT_OOM leaked out' line in dmesg"
fi
mm-fault-fi off

# 7. The original control program (system-wide, as the original). Armed
#    with times 0, so that it injects nothing: a system-wide fault would hit
#    whoever faults next, and a failed fault while the kernel writes a
#    signal frame kills that process with SIGSEGV (this very shell, say).
ln -sf "$(command -v mm-fault-fi)" /tmp/pt-load-fi-main
out=$(printf '0\n0\n' | /tmp/pt-load-fi-main 2>&1)
expect_match "$T.legacy-armed" "$out" 'armed pt-load-fi'
expect_eq "$T.legacy-knobs" "$(cat /proc/pt-load-fi/signal),$(cat /proc/pt-load-fi/type),$(cat /proc/pt-load-fi/times)" "1,0,0"
expect_eq "$T.legacy-state" "$(status_field state),$(status_field injected)" "armed,0"
echo 0 >/proc/pt-load-fi/signal
expect_eq "$T.legacy-off" "$(status_field state),$(status_field last-end)" "disarmed,off"

# 8. No scope: refused.
mm-fault-fi arm --result sigsegv >/dev/null 2>&1
expect_eq "$T.refuse-global" "$?" 2
mm-fault-fi arm --tgid 1 --addr-range 0x2000-0x1000 >/dev/null 2>&1
expect_eq "$T.refuse-empty-range" "$?" 2

mm-fault-fi unload
if bad=$(dmesg_bad | grep -v '^\[ *[0-9.]*\] traps: [^ ]* general protection fault ip:'); then
    fail "$T.dmesg-clean" "$(echo "$bad" | head -n 1)"
else
    pass "$T.dmesg-clean"
fi
exit 0
