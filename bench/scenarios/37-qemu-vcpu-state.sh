#!/bin/sh
# bench-timeout: 240
# bench-needs: qemu
# vcpu-state-fi on QEMU: `info registers` over QMP shows the falsified program
# counter, and the guest runs on although QEMU writes its register copy back
# before it resumes the vCPU (KVM_SET_REGS on x86_64, KVM_SET_ONE_REG per
# register on arm64): the module puts the true value in place of the made-up
# one it sees written back (a "restore" event). After `off` the true value
# shows again.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=vcpu-state-fi
P=qemu.vcpu-state

require_qemu $P
dmesg_mark
if [ "$BENCH_ARCH" = arm64 ]; then REG=pc FIELD=PC; else REG=rip FIELD=EIP; fi

# pc_shown NAME: the program counter `info registers` shows (hex, no 0x).
pc_shown() { qmp "/tmp/$1.qmp" 'hmp:info registers' | tr ' ' '\n' | sed -n "s/^$FIELD=//p" | head -n 1; }
# bit16 HEX: 1 when bit 16 of the value is set. The payload runs below
# 0x10000 in its code segment (x86_64: EIP in CS f000; arm64: PC in
# 0x40000000-0x40000fff), so --xor 0x10000 sets it.
bit16() { echo $(((0x$1 >> 16) & 1)); }

qemu_start vs
if ! qemu_wait_up vs; then
    fail $P.qemu-up "QEMU did not start the payload: $(head -c 300 /tmp/vs.err)"
    qemu_stop
    exit 0
fi
true_pc=$(pc_shown vs)
echo "unarmed: $FIELD=$true_pc"
expect_eq $P.true-pc-below-64k "$(bit16 "$true_pc")" 0

id=$($T arm --tgid "$QPID" --reg $REG --xor 0x10000)
# Each `info registers` reads the registers once and QEMU writes them back
# before the vCPU runs again; three rounds, with the payload running between.
shown=""
for _ in 1 2 3; do
    shown="$shown $(pc_shown vs)"
    sleep 0.5
done
echo "armed: $FIELD=$shown"
flags=$(for v in $shown; do bit16 "$v"; done | tr -d '\n')
expect_eq $P.info-registers-falsified "$flags" 111
expect_ge $P.injected "$(st injected)" 3
expect_eq $P.events "$(exp_events "$id" "comm=$QEMU_COMM what=register now ")" "$(st injected),0"
$T events --experiment "$id" | grep ' restore ' >/tmp/restore.out
restored=$(wc -l </tmp/restore.out | tr -d ' ')
echo "restore events: $restored; $(head -n 1 /tmp/restore.out)"
expect_ge $P.write-back-restored "$restored" 3
if qemu_progresses vs; then pass $P.guest-runs-on; else fail $P.guest-runs-on "passes $QEMU_PROGRESS_SEEN, status $(qmp /tmp/vs.qmp '{"execute":"query-status"}')"; fi
expect_match $P.still-running "$(qmp /tmp/vs.qmp '{"execute":"query-status"}')" '"status": "running"'
echo "qemu stderr: $(head -c 300 /tmp/vs.err)"
$T off
after=$(pc_shown vs)
echo "after off: $FIELD=$after"
expect_eq $P.off-true-pc "$(bit16 "$after")" 0
if qemu_progresses vs; then pass $P.guest-runs-after-off; else fail $P.guest-runs-after-off "passes $QEMU_PROGRESS_SEEN"; fi
qemu_stop

$T unload
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
