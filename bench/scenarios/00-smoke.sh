#!/bin/sh
# bench-timeout: 120
# Smoke test of the bench itself: right kernel, KVM inside the guest, kprobes
# on and firing, out-of-tree modules matching the kernel, fi-probe working.
# shellcheck source=bench/guest/lib.sh
. /bench/lib.sh

# 1. The kernel is the one asked for.
krel=$(uname -r)
expect_eq smoke.release "$krel" "$BENCH_KREL"
case "$krel" in
    "$BENCH_SERIES".*) pass smoke.series ;;
    *) fail smoke.series "release $krel is not series $BENCH_SERIES" ;;
esac
want_m=$BENCH_ARCH
[ "$want_m" = arm64 ] && want_m=aarch64
expect_eq smoke.arch "$(uname -m)" "$want_m"

# 2. KVM works inside the guest (nested: SVM under TCG on x86_64, VHE at EL2 on arm64).
if [ "$BENCH_ARCH" = arm64 ]; then
    if dmesg | grep -q 'VHE mode initialized'; then
        pass smoke.kvm-vhe
    else
        fail smoke.kvm-vhe "no 'VHE mode initialized' in dmesg"
    fi
fi
if [ -c /dev/kvm ]; then
    out=$(fi-probe kvm-check 2>&1)
    case "$out" in
        "api=12 vm=ok") pass smoke.kvm ;;
        *) fail smoke.kvm "fi-probe kvm-check: $out" ;;
    esac
else
    fail smoke.kvm "/dev/kvm missing ($(grep -E 'kvm|ccp' /proc/modules | cut -d' ' -f1 | tr '\n' ' '))"
fi

# 3. kprobes are on, and a probe registered from tracefs fires for our reads.
if [ -r /sys/kernel/debug/kprobes/list ] && [ "$(cat /sys/kernel/debug/kprobes/enabled 2>/dev/null)" = 1 ]; then
    pass smoke.kprobes-enabled
else
    fail smoke.kprobes-enabled "/sys/kernel/debug/kprobes/{list,enabled} not usable"
fi
T=/sys/kernel/tracing
if [ -w "$T/kprobe_events" ]; then
    echo 'p:kvmfi_smoke vfs_read' >>"$T/kprobe_events"
    echo 1 >"$T/events/kprobes/kvmfi_smoke/enable"
    head -c 4096 /dev/urandom >/tmp/smoke.dat
    before=$(trace_kprobe_hits kvmfi_smoke)
    out=$(fi-probe read /tmp/smoke.dat --count 50 --size 16)
    after=$(trace_kprobe_hits kvmfi_smoke)
    listed=$(grep -c 'vfs_read' /sys/kernel/debug/kprobes/list)
    echo 0 >"$T/events/kprobes/kvmfi_smoke/enable"
    echo '-:kvmfi_smoke' >>"$T/kprobe_events"
    expect_ge smoke.kprobe-listed "$listed" 1
    expect_ge smoke.kprobe-fires "$((after - before))" 50
    # 4. fi-probe read counts and reports.
    expect_eq smoke.fi-probe-read "$(kv ok "$out"),$(kv err "$out"),$(kv errno "$out"),$(kv bytes "$out")" "50,0,none,800"
else
    fail smoke.kprobe-fires "no tracefs kprobe_events"
fi
out=$(fi-probe read /nonexistent --count 3)
expect_eq smoke.fi-probe-errno "$(kv err "$out"),$(kv first_errno "$out")" "3,ENOENT"
out=$(fi-probe write /tmp/smoke.out --count 4 --size 10)
expect_eq smoke.fi-probe-write "$(kv ok "$out"),$(wc -c </tmp/smoke.out)" "4,40"

# 5. Every project module was built for this very kernel.
n=0 bad=""
for ko in "$KMODS"/*.ko; do
    [ -f "$ko" ] || continue
    n=$((n + 1))
    vm=$(tr '\0' '\n' <"$ko" | sed -n 's/^vermagic=//p' | head -n 1 | cut -d' ' -f1)
    [ "$vm" = "$krel" ] || bad="$bad $(basename "$ko")=$vm"
done
if [ "$n" = 0 ]; then
    skip smoke.kmods-vermagic "no modules in $KMODS"
elif [ -z "$bad" ]; then
    pass smoke.kmods-vermagic
else
    fail smoke.kmods-vermagic "vermagic mismatch:$bad"
fi

# 6. The bench's own throwaway module (KMOD_SRC pointing at it) loads and unloads.
if has_kmod kvmfi_hello; then
    dmesg_mark
    if kmod_load kvmfi_hello && mod_loaded kvmfi_hello && kmod_unload kvmfi_hello &&
        ! mod_loaded kvmfi_hello && dmesg_since | grep -q 'kvmfi_hello: unloaded'; then
        pass smoke.hello-module
    else
        fail smoke.hello-module "load/unload failed: $(dmesg_since | tail -n 3)"
    fi
fi

# 7. Nothing above upset the kernel.
dmesg_mark_all() { _DMESG_MARK=0; }
dmesg_mark_all
if bad=$(dmesg_bad); then
    fail smoke.dmesg-clean "$(echo "$bad" | head -n 1)"
else
    pass smoke.dmesg-clean
fi
exit 0
