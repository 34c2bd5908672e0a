#!/bin/sh
# bench-timeout: 240
# kvm-ioctl-fi (resource.ko) against a real VMM (test-vmm) inside the guest:
# chosen VM and vCPU ioctls fail with the chosen errno for the VMM's pid only,
# hook hit counts prove kvm_vm_ioctl / kvm_vcpu_ioctl fire, legacy knobs.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=kvm-ioctl-fi
P=kvm.ioctl

require_test_vmm $P
dmesg_mark

# 1. KVM_CREATE_VCPU fails with EPERM for the VMM; another VMM is untouched.
out=$(vmm "--cmd KVM_CREATE_VCPU" vcpu --count 2)
echo "armed vmm: $out"
expect_eq $P.arm-rc "$(cat /tmp/arm.rc)" 0
expect_eq $P.create-vcpu-eperm "$(kv vcpus_ok "$out"),$(kv vcpus_err "$out"),$(kv errno "$out")" "0,2,EPERM"
other=$(test-vmm vcpu --count 2)
expect_eq $P.other-vmm-ok "$(kv vcpus_ok "$other"),$(kv vcpus_err "$other")" "2,0"
expect_eq $P.injected "$(st injected)" 2
expect_events $P.events 2 "comm=test-vmm what=.* value=-1 "
expect_ge $P.hook-hits "$(st hits)" 4
matrix_row $T $P.create-vcpu-eperm symbol
echo "status: $($T status | tr '\n' ' ')"
$T off
expect_eq $P.off "$(st state)" disarmed

# 2. another errno and command: the memory region ioctl gets EACCES.
out=$(vmm "--cmd KVM_SET_USER_MEMORY_REGION --errno EACCES" memslot --count 2)
expect_eq $P.memory-region-eacces "$(kv regions_err "$out"),$(kv errno "$out")" "2,EACCES"
$T off

# 3. a vCPU ioctl: KVM_RUN fails with EINTR (kvm_vcpu_ioctl fires).
out=$(vmm "--cmd KVM_RUN --errno EINTR" run --pages 4)
echo "KVM_RUN armed: $out"
expect_match $P.kvm-run-eintr "$out" 'run=EINTR'
expect_ge $P.vcpu-hook-hits "$(st injected)" 1
$T off

# 4. --times 1: one failure, then the module disarms itself.
out=$(vmm "--cmd KVM_CREATE_VCPU --times 1" vcpu --count 3)
expect_eq $P.times-1 "$(kv vcpus_ok "$out"),$(kv vcpus_err "$out")" "2,1"
sleep 0.2
expect_eq $P.times-self-disarm "$(st state),$(st last-end)" "disarmed,times-reached"

# 5. --list-cmds names the commands of this architecture.
expect_match $P.list-cmds "$($T --list-cmds | grep -c -E '^KVM_(CREATE_VCPU|RUN|IRQFD|GET_DIRTY_LOG) ')" '^4$'
$T arm --tgid 1 --cmd KVM_NOPE >/dev/null 2>&1
expect_eq $P.bad-cmd-usage $? 2
$T arm --tgid 1 --cmd KVM_CREATE_VM >/dev/null 2>&1
expect_eq $P.system-cmd-refused $? 2

# 6. legacy /proc/resource: type 0 = EPERM for the next `time` VM ioctls of any process.
echo 0 >/proc/resource/type && echo 1 >/proc/resource/time && echo 1 >/proc/resource/signal
out=$(test-vmm vcpu --count 2)
echo "legacy EPERM: $out"
if [ "$BENCH_ARCH" = x86_64 ]; then
    # the first VM ioctl of test-vmm on x86_64 is KVM_CREATE_IRQCHIP
    expect_eq $P.legacy-eperm "$(kv irqchip "$out"),$(kv vcpus_ok "$out")" "EPERM,2"
else
    expect_eq $P.legacy-eperm "$(kv vcpus_ok "$out"),$(kv vcpus_err "$out"),$(kv errno "$out")" "1,1,EPERM"
fi
sleep 0.2
expect_eq $P.legacy-signal-after "$(cat /proc/resource/signal)" 0
# type 1 (flip a bit of the command): the ioctl fails somehow, nothing breaks.
echo 1 >/proc/resource/type && echo 1 >/proc/resource/position && echo 1 >/proc/resource/signal
out=$(test-vmm vcpu --count 2)
echo "legacy corrupt: $out"
expect_ge $P.legacy-corrupt-cmd "$(kv vcpus_ok "$out")" 1
echo 0 >/proc/resource/signal
if dmesg_since | grep -q '\[ARM-Res-Fi\].*injected'; then pass $P.legacy-dmesg-tag; else fail $P.legacy-dmesg-tag "no [ARM-Res-Fi] line"; fi

$T unload
expect_eq $P.unloaded "$(st state)" not-loaded
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
