#!/bin/sh
# bench-timeout: 180
# A KVM tool whose probed code is in kvm.ko, while kvm.ko is unloaded and
# loaded again (x86_64; arm64 has KVM built in): the armed fault is disarmed
# with a clear status (last-end hook-module-unloaded), arm is refused while
# kvm is away (exit 4, saying why), and once kvm is back the hooks are
# registered again and the fault fires on the new kvm.ko.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
P=kvm.reload

# (/sys/module/kvm exists for a built-in kvm too: ask /proc/modules)
if ! grep -q '^kvm ' /proc/modules; then
    skip $P "kvm is not a loadable module here (built in: it cannot go away)"
    exit 0
fi
require_test_vmm $P
dmesg_mark

# kvm_out / kvm_in: rmmod kvm_amd kvm; load them again from the image.
kvm_out() { rmmod kvm_amd && rmmod kvm; }
kvm_in() { load_image_module kvm-amd; }

for T in kvm-ioctl-fi vcpu-state-fi; do
    case $T in
        kvm-ioctl-fi) ARM="--cmd KVM_CREATE_VCPU" ;;
        *) ARM="--reg rip --xor 0x10" ;;
    esac
    sh -c 'kill -STOP $$; exec sleep 60' &
    spid=$!
    wait_stopped $spid
    # shellcheck disable=SC2086 # word splitting of the arm options intended
    $T arm --tgid $spid $ARM >/dev/null
    expect_eq $P.$T.armed "$(st state)" armed
    if kvm_out; then pass $P.$T.rmmod-kvm; else fail $P.$T.rmmod-kvm "rmmod kvm_amd kvm failed"; fi
    expect_eq $P.$T.disarmed-when-kvm-goes "$(st state),$(st last-end)" "disarmed,hook-module-unloaded"
    # shellcheck disable=SC2086
    msg=$($T arm --tgid $spid $ARM --replace 2>&1)
    expect_eq $P.$T.arm-refused-exit-4 $? 4
    # (the tool sees /dev/kvm gone before the module's ENOLINK could say so)
    expect_match $P.$T.arm-refused-says-why "$msg" 'unloaded|no /dev/kvm'
    kill -9 $spid 2>/dev/null
    kvm_in
    expect_eq $P.$T.kvm-back "$(test -c /dev/kvm && echo yes)" yes
    if dmesg_since | grep -q "is back: hooks registered again"; then pass $P.$T.hooks-again; else fail $P.$T.hooks-again "no re-registration line in dmesg"; fi
done

# The re-registered hook fires on the new kvm.ko.
T=kvm-ioctl-fi
out=$(vmm "--cmd KVM_CREATE_VCPU" vcpu --count 2)
expect_eq $P.fires-after-reload "$(kv vcpus_ok "$out"),$(kv vcpus_err "$out"),$(kv errno "$out")" "0,2,EPERM"
expect_eq $P.injected-after-reload "$(st injected)" 2
$T unload
# vcpu-state-fi's write-back hook is back too: the falsified read still leaves the guest intact.
T=vcpu-state-fi
out=$(vmm "--reg rip --xor 0x10000" run --pages 4 --regs)
expect_eq $P.vcpu-state-after-reload "$(kv guest "$out"),$(st injected)" "ok,$(kv reads "$out")"
$T unload

if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
