#!/bin/sh
# bench-timeout: 200
# The test VMM itself, without any fault: the baseline every KVM-layer
# scenario compares against (API version, vCPU, memory region, guest run
# with register reads, pre-copy migration with a complete dirty log).
. /bench/lib.sh

if [ ! -c /dev/kvm ] || ! command -v test-vmm >/dev/null; then
    skip kvm.vmm "no /dev/kvm or no test-vmm"
    exit 0
fi
out=$(test-vmm version --cap 3)
echo "test-vmm version: $out"
expect_eq kvm.vmm.version "$(kv api "$out"),$(kv create_vm "$out")" "12,ok"
out=$(test-vmm vcpu --count 2)
echo "test-vmm vcpu: $out"
expect_eq kvm.vmm.vcpu "$(kv vcpus_ok "$out"),$(kv vcpus_err "$out")" "2,0"
out=$(test-vmm memslot --count 2)
echo "test-vmm memslot: $out"
expect_eq kvm.vmm.memslot "$(kv regions_ok "$out"),$(kv regions_err "$out")" "2,0"
out=$(test-vmm run --pages 8 --regs)
echo "test-vmm run: $out"
expect_eq kvm.vmm.run "$(kv guest "$out"),$(kv unexpected "$out"),$(kv pc_values "$out")" "ok,0,2"
out=$(test-vmm migrate --pages 64 --rounds 4)
echo "test-vmm migrate: $out"
expect_eq kvm.vmm.migrate "$(kv guest "$out"),$(kv dirty_reported "$out"),$(kv mismatched "$out")" "ok,64,0"
if bad=$(dmesg_bad); then fail kvm.vmm.dmesg "$(echo "$bad" | head -n 1)"; else pass kvm.vmm.dmesg; fi
exit 0
