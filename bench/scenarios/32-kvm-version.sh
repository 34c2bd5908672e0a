#!/bin/sh
# bench-timeout: 200
# kvm-version-fi (kvm-version-fi.ko): a fake KVM_GET_API_VERSION and failing
# /dev/kvm ioctls for one process; kvm_dev_ioctl hit counts; legacy knobs.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=kvm-version-fi
P=kvm.version

require_test_vmm $P
dmesg_mark

# 1. the VMM reads API version 11; KVM itself still works for it; others see 12.
out=$(vmm "--api-version 11" version)
echo "armed: $out"
expect_eq $P.arm-rc "$(cat /tmp/arm.rc)" 0
expect_eq $P.fake-api-version "$(kv api "$out"),$(kv create_vm "$out")" "11,ok"
other=$(test-vmm version)
expect_eq $P.other-process-12 "$(kv api "$other")" 12
expect_eq $P.injected "$(st injected)" 1
expect_events $P.events 1 "comm=test-vmm .*value=11 "
expect_ge $P.hook-hits "$(st hits)" 2
matrix_row $T $P.fake-api-version
$T off

# 2. KVM_CREATE_VM fails with ENOMEM, the version is untouched.
out=$(vmm "--fail KVM_CREATE_VM --errno ENOMEM" version)
expect_eq $P.create-vm-enomem "$(kv api "$out"),$(kv create_vm "$out")" "12,ENOMEM"
$T off

# 3. KVM_CHECK_EXTENSION answers 0 for one capability only.
out=$(vmm "--fail KVM_CHECK_EXTENSION --cap KVM_CAP_USER_MEMORY --value 0" version --cap 3 --cap 9)
echo "caps: $out"
expect_eq $P.cap-absent "$(kv cap3 "$out")" 0
expect_ge $P.other-cap-present "$(kv cap9 "$out")" 1
$T off

# 4. legacy /proc/kvm-version-fi: API version 0 for `times` calls of any process.
echo 1 >/proc/kvm-version-fi/times && echo 1 >/proc/kvm-version-fi/signal
out=$(test-vmm version)
expect_eq $P.legacy-api-0 "$(kv api "$out")" 0
out=$(test-vmm version)
expect_eq $P.legacy-once "$(kv api "$out")" 12
if dmesg_since | grep -q '\[ARM-Ver-Fi\].*injected'; then pass $P.legacy-dmesg-tag; else fail $P.legacy-dmesg-tag "no [ARM-Ver-Fi] line"; fi

$T unload

# 5. a kernel lacking every candidate function: exit 4, naming those tried.
msg=$(KVMFI_CANDIDATES='kvm-version-fi.symbol=kvm_dev_ioctl_gone,kvm_dev_ioctl_old' $T arm --tgid 1 --api-version 11 2>&1)
rc=$?
expect_eq $P.no-candidate-exit-4 "$rc" 4
expect_match $P.no-candidate-names-tried "$msg" 'tried: kvm_dev_ioctl_gone, kvm_dev_ioctl_old'
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
