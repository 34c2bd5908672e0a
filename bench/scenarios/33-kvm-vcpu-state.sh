#!/bin/sh
# bench-timeout: 240
# vcpu-state-fi (kvm-state-fi.ko): the program counter and flags that the VMM
# reads (KVM_GET_REGS on x86_64, KVM_GET_ONE_REG on arm64) are falsified,
# while the guest keeps running correctly (it finishes its work: guest=ok).
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=vcpu-state-fi
P=kvm.vcpu-state

require_test_vmm $P
dmesg_mark
hex() { printf '0x%x' "$1"; }

if [ "$BENCH_ARCH" = arm64 ]; then PC=pc FL=pstate; else PC=rip FL=rflags; fi

# 0. the truth, unarmed: 8 pages, 10 exits, each one read.
base=$(test-vmm run --pages 8 --regs)
echo "unarmed: $base"
pc=$(kv pc_first "$base")
fl=$(kv flags_first "$base")
expect_eq $P.baseline "$(kv guest "$base"),$(kv reads "$base")" "ok,10"

# 1. --xor: every read of the PC is off by the mask; the guest is unharmed.
out=$(vmm "--reg $PC --xor 0x10000" run --pages 8 --regs)
echo "xor: $out"
expect_eq $P.arm-rc "$(cat /tmp/arm.rc)" 0
expect_eq $P.pc-xor "$(kv pc_first "$out")" "$(hex $((pc ^ 0x10000)))"
expect_eq $P.guest-runs-on "$(kv guest "$out"),$(kv unexpected "$out")" "ok,0"
expect_eq $P.injected-per-read "$(st injected)" 10
expect_events $P.events 10
expect_ge $P.hook-hits "$(st hits)" 10
matrix_row $T $P.pc-xor
echo "status: $($T status | tr '\n' ' ')"
$T off

# 2. --set: the PC reads as a chosen value.
out=$(vmm "--reg $PC --set 0xdead0000" run --pages 4 --regs)
expect_eq $P.pc-set "$(kv pc_first "$out"),$(kv pc_values "$out"),$(kv guest "$out")" "0xdead0000,1,ok"
$T off

# 3. the flags register (rflags / pstate).
out=$(vmm "--reg $FL --xor 0x1" run --pages 4 --regs)
expect_eq $P.flags-xor "$(kv flags_first "$out"),$(kv guest "$out")" "$(hex $((fl ^ 1))),ok"
$T off

# 4. --times 1: the first read only; the module disarms itself.
out=$(vmm "--reg $PC --xor 0x4 --times 1" run --pages 4 --regs)
expect_eq $P.times-1 "$(kv pc_first "$out"),$(st injected)" "$(hex $((pc ^ 4))),1"
sleep 0.2
expect_eq $P.times-self-disarm "$(st state)" disarmed

# 5. another VMM is untouched while armed.
sh -c 'kill -STOP $$; exec sleep 30' &
spid=$!
wait_stopped $spid
$T arm --tgid $spid --reg $PC --xor 0x10000 >/dev/null
other=$(test-vmm run --pages 4 --regs)
expect_eq $P.other-vmm-true-pc "$(kv pc_first "$other")" "$pc"
$T off
kill -9 $spid 2>/dev/null

# 6. legacy /proc/kvm-state-fi: a random bit of the PC flips for `times` reads.
echo 2 >/proc/kvm-state-fi/times && echo 1 >/proc/kvm-state-fi/signal
out=$(test-vmm run --pages 4 --regs)
echo "legacy: $out"
if [ "$(kv pc_first "$out")" != "$pc" ] && [ "$(kv guest "$out")" = ok ]; then
    pass $P.legacy-falsified
else
    fail $P.legacy-falsified "pc_first $(kv pc_first "$out") (true $pc), guest $(kv guest "$out")"
fi
sleep 0.2
expect_eq $P.legacy-signal-after "$(cat /proc/kvm-state-fi/signal)" 0
if dmesg_since | grep -q '\[ARM-State-Fi\].*injected'; then pass $P.legacy-dmesg-tag; else fail $P.legacy-dmesg-tag "no [ARM-State-Fi] line"; fi

$T unload
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
