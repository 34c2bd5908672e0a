#!/bin/sh
# bench-timeout: 360
# bench-image-modules: loop dm-mod
# bench-files: examples/experiments/vm-vcpu-ioctl-deny.toml examples/experiments/migration-dirty-log.toml
# kvmfi-experiment with kernel faults: the examples of examples/experiments/
# run against the test VMM (other VMs keep running while one VMM is refused
# KVM_RUN; a tampered dirty log is caught by the migration probe and trips
# the abort), a kill -9 of a run recovered, kvmfi-halt disarming a
# kernel fault and refusing the next arm until --release, and disk-fi as a
# step (bad sectors read as EIO during the method, the device gone after).
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
P=experiment
F=/bench/files

require_test_vmm $P
command -v kvmfi-experiment >/dev/null || { skip $P "kvmfi-experiment not built"; exit 0; }
dmesg_mark
cp /usr/bin/test-vmm /tmp/victim-vmm
export PATH="/tmp:$PATH"

# json FILE KEY: one top-level or fault field of a report (busybox: no python).
field() { sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -n 1; }

# 1. vCPU ioctls denied for one VMM: the other VMs run on (held, exit 0).
kvmfi-experiment validate $F/vm-vcpu-ioctl-deny.toml >/dev/null
expect_eq $P.vcpu.validate $? 0
kvmfi-experiment run --report /tmp/r1 $F/vm-vcpu-ioctl-deny.toml >/tmp/r1.out 2>&1
rc=$?
tail -n 3 /tmp/r1.out
expect_eq $P.vcpu.held "$rc,$(field /tmp/r1/report.json verdict)" "0,held"
expect_match $P.vcpu.victim-denied "$(cat /tmp/r1.out)" 'probe victim-denied \(method\): ok'
expect_match $P.vcpu.kernel-events "$(grep -c '"what": ' /tmp/r1/report.json)" '^[1-9]'
expect_eq $P.vcpu.disarmed "$(kvm-ioctl-fi status | awk '$1 == "state" { print $2 }')" disarmed

# 2. a tampered dirty log: the probe catches it, the method aborts (exit 1),
#    the rollback makes migrations exact again.
kvmfi-experiment run --report /tmp/r2 $F/migration-dirty-log.toml >/tmp/r2.out 2>&1
rc=$?
tail -n 4 /tmp/r2.out
expect_eq $P.dirty.deviated "$rc,$(field /tmp/r2/report.json verdict)" "1,deviated"
expect_match $P.dirty.abort "$(cat /tmp/r2.out)" 'abort: probe migration-exact out of tolerance: output does not match'
expect_match $P.dirty.after-ok "$(cat /tmp/r2.out)" 'probe migration-exact \(after\): ok'
expect_eq $P.dirty.disarmed "$(dirty-log-fi status | awk '$1 == "state" { print $2 }')" disarmed
out=$(test-vmm migrate --pages 100 --rounds 2)
expect_match $P.dirty.exact-after "$out" 'mismatched=0 guest=ok'

# 3. kill -9 in the middle of a run; recover disarms the module.
kvmfi-experiment run --report /tmp/r3 $F/vm-vcpu-ioctl-deny.toml >/tmp/r3.out 2>&1 &
pid=$!
i=0
while [ "$(kvm-ioctl-fi status | awk '$1 == "state" { print $2 }')" != armed ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 $pid
wait $pid 2>/dev/null
expect_eq $P.kill9.was-armed "$(kvm-ioctl-fi status | awk '$1 == "state" { print $2 }')" armed
kvmfi-experiment recover
expect_eq $P.kill9.recover-disarms "$(kvm-ioctl-fi status | awk '$1 == "state" { print $2 }')" disarmed
expect_eq $P.kill9.second-recover-noop "$(kvmfi-experiment recover)" ""

# 4. kvmfi-halt: a kernel fault disarmed, the next arm refused (exit 6) until --release.
kvm-ioctl-fi arm --comm victim-vmm --cmd KVM_RUN --duration 60s >/dev/null
expect_eq $P.halt.armed "$(kvm-ioctl-fi status | awk '$1 == "state" { print $2 }')" armed
kvmfi-halt --reason "bench" >/tmp/halt.out 2>&1
expect_eq $P.halt.rc $? 0
expect_eq $P.halt.disarmed "$(kvm-ioctl-fi status | awk '$1 == "state" { print $2 }')" disarmed
kvm-ioctl-fi arm --comm victim-vmm --cmd KVM_RUN --duration 60s >/dev/null 2>/tmp/arm.err
expect_eq $P.halt.arm-refused $? 6
expect_match $P.halt.arm-message "$(cat /tmp/arm.err)" 'kvmfi is halted .*bench'
ln -sf /usr/bin/vfs-read-fi /tmp/file-read-fi-main
/tmp/file-read-fi-main 0 1 </dev/null >/dev/null 2>/tmp/legacy.err
expect_eq $P.halt.legacy-refused $? 6
kvmfi-halt --release >/dev/null
kvm-ioctl-fi arm --comm victim-vmm --cmd KVM_RUN --duration 60s >/dev/null
expect_eq $P.halt.arm-after-release $? 0
kvm-ioctl-fi off

# 5. disk-fi as a step: sector 100 of an image fails with EIO through the
#    device-mapper device while a method probe reads it; the rollback
#    (disk-fi recover ID) removes the device.
if load_image_module loop && load_image_module dm-mod; then
    dd if=/dev/zero of=/tmp/xp-disk.img bs=1M count=4 2>/dev/null
    cat >/tmp/xp-disk.toml <<'TOML'
title = "bad sectors under an image"
[steady_state]
probes = ["image"]
interval = "1s"
[[probe]]
name = "image"
type = "command"
command = ["test", "-s", "/tmp/xp-disk.img"]
[[probe]]
name = "bad-sector"
type = "command"
command = ["sh", "-c", "fi-probe read $(ls -d /dev/dm-* | head -n 1) --direct --offset 51200 --size 512"]
output = "first_errno=EIO"
[[method]]
parallel = [
  { fault = "disk-fi", args = ["badblocks", "/tmp/xp-disk.img", "--sectors", "100"], duration = "4s" },
  { sequence = [ { wait = "2s" }, { probe = "bad-sector" } ] },
]
TOML
    kvmfi-experiment run --report /tmp/r5 /tmp/xp-disk.toml >/tmp/r5.out 2>&1
    rc=$?
    tail -n 3 /tmp/r5.out
    expect_eq $P.disk.held "$rc,$(field /tmp/r5/report.json verdict)" "0,held"
    expect_match $P.disk.eio-during "$(cat /tmp/r5.out)" 'probe bad-sector \(method\): ok'
    expect_match $P.disk.applied "$(cat /tmp/r5.out)" 'disk-fi badblocks /tmp/xp-disk.img --sectors 100 --duration 14000ms'
    expect_eq $P.disk.no-dm "$(find /sys/block -maxdepth 1 -name 'dm-*' | wc -l)" 0
    expect_eq $P.disk.journal-empty "$(disk-fi status | grep -c badblocks)" 0
else
    skip $P.disk "loop or dm-mod not in the image"
fi

for t in kvm-ioctl-fi dirty-log-fi; do $t unload; done
if bad=$(dmesg_bad); then fail $P.dmesg-clean "$(echo "$bad" | head -n 1)"; else pass $P.dmesg-clean; fi
exit 0
