#!/bin/sh
# 17-kfail: kfail-fi drives the kernel's own fault-injection framework.
# On kernels without it (every Debian kernel) kfail-fi must say so (exit 4)
# and the rest is skipped; on the debug kernel (x86_64-6.1-debug):
# - failslab with make-it-fail: a targeted shell sees ENOMEM ("Out of
#   memory", ENOMEM) creating files while another shell does not;
# - fail_function on syscalls of the kernel's allow-list: mkdir fails with
#   EACCES for the target only;
# - the knobs come back exactly as they were after `off`, after the lease,
#   and after kill -9 of kfail-fi + `recover`.
# bench-timeout: 600
# shellcheck source=bench/guest/lib.sh
. /bench/lib.sh

D=/sys/kernel/debug
export KVMFI_STATE_DIR=/tmp/kfail-journal

if ! command -v kfail-fi >/dev/null 2>&1; then
    skip kfail.tool "kfail-fi is not in this guest (BENCH_PACKAGES)"
    exit 0
fi

if [ ! -d "$D/failslab" ]; then
    kfail-fi arm failslab --yes >/tmp/out.txt 2>&1
    rc=$?
    if [ "$rc" = 4 ] && grep -q 'CONFIG_FAILSLAB' /tmp/out.txt; then
        pass kfail.unsupported-report
    else
        fail kfail.unsupported-report "rc=$rc: $(head -c 300 /tmp/out.txt)"
    fi
    skip kfail.framework "this kernel has no fault-injection framework (CONFIG_FAULT_INJECTION is off in Debian's kernels): run on x86_64-6.1-debug"
    exit 0
fi

dmesg_mark

# knob_line FACILITY: its status line (every knob kfail-fi shows).
knob_line() { kfail-fi status | grep "^$1 "; }

# Distinctive previous values, harmless: the task filter is on first and no
# task is marked, so nothing fails while they are set.
preset() { # dir
    echo Y >"$1/task-filter"
    echo 7 >"$1/probability"
    echo 3 >"$1/interval"
    echo 42 >"$1/times"
    echo 0 >"$1/space"
    echo 0 >"$1/verbose"
}
preset "$D/failslab"
echo Y >"$D/failslab/ignore-gfp-wait"
preset "$D/fail_function"
before_slab=$(knob_line failslab)
before_func=$(knob_line fail_function)
expect_match kfail.status "$before_slab" 'probability=7 interval=3 times=42 .*task-filter=Y'

# The allocation-heavy worker: 20 file creations from the shell itself
# (each open allocates a struct file and a name buffer from slab caches).
cat >/tmp/alloc.sh <<'EOF'
exec 2>"/tmp/alloc.$1.err"
[ "$2" = stop ] && kill -STOP $$
ok=0 bad=0
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    if echo x >"/tmp/alloc.$1.$i"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
done
echo "ok=$ok bad=$bad" >"/tmp/alloc.$1.result"
EOF

# --- failslab with make-it-fail --------------------------------------------
sh /tmp/alloc.sh target stop &
tpid=$!
if ! wait_stopped "$tpid"; then
    fail kfail.failslab "target $tpid did not stop"
else
    kfail-fi arm failslab --tgid "$tpid" --times 5 --duration 5m >/dev/null 2>/tmp/arm.err
    rc=$?
    if [ "$rc" != 0 ]; then
        fail kfail.failslab-arm "rc=$rc: $(head -c 300 /tmp/arm.err)"
        kill -9 "$tpid" 2>/dev/null
    else
        armed=$(knob_line failslab)
        expect_match kfail.failslab-knobs "$armed" 'probability=100 interval=1 times=5 .*task-filter=Y ignore-gfp-wait=N'
        expect_eq kfail.failslab-marked "$(cat "/proc/$tpid/make-it-fail")" 1
        # another shell, not marked, while the fault is armed
        sh /tmp/alloc.sh other
        expect_eq kfail.failslab-other "$(cat /tmp/alloc.other.result 2>/dev/null)" "ok=20 bad=0"
        kill -CONT "$tpid"
        wait "$tpid"
        res=$(cat /tmp/alloc.target.result 2>/dev/null)
        bad=$(kv bad "$res")
        if [ -n "$bad" ] && [ "$bad" -ge 1 ] && [ "$bad" -le 5 ] && grep -Eq 'Cannot allocate memory|Out of memory' /tmp/alloc.target.err; then
            pass kfail.failslab-target
        else
            fail kfail.failslab-target "result '$res', stderr: $(head -c 200 /tmp/alloc.target.err)"
        fi
        kfail-fi off >/tmp/off.txt 2>&1 || fail kfail.failslab-off "$(cat /tmp/off.txt)"
        expect_eq kfail.failslab-restored "$(knob_line failslab)" "$before_slab"
    fi
fi

# --- fail_function on mkdir, target only ------------------------------------
if ! grep -q '^__x64_sys_mkdir[[:space:]]' "$D/error_injection/list" 2>/dev/null; then
    skip kfail.fail-function "__x64_sys_mkdir is not on the error-injection allow-list of this kernel"
else
    cat >/tmp/mk.sh <<'EOF'
exec 2>/tmp/mk.err
kill -STOP $$
if mkdir /tmp/mk.target; then echo created >/tmp/mk.result; else echo "failed" >/tmp/mk.result; fi
EOF
    sh /tmp/mk.sh &
    tpid=$!
    if ! wait_stopped "$tpid"; then
        fail kfail.fail-function "target $tpid did not stop"
    elif ! kfail-fi arm fail_function --function __x64_sys_mkdir --function __x64_sys_mkdirat \
        --errno EACCES --tgid "$tpid" >/dev/null 2>/tmp/arm.err; then
        fail kfail.fail-function-arm "$(head -c 300 /tmp/arm.err)"
        kill -9 "$tpid"
    else
        expect_match kfail.fail-function-knobs "$(knob_line fail_function)" \
            'probability=100 .*task-filter=Y inject=__x64_sys_mkdir:0xfffffffffffffff3,__x64_sys_mkdirat:0xfffffffffffffff3'
        if mkdir /tmp/mk.other 2>/tmp/mk.other.err; then pass kfail.fail-function-other; else
            fail kfail.fail-function-other "$(cat /tmp/mk.other.err)"; fi
        kill -CONT "$tpid"
        wait "$tpid"
        if [ "$(cat /tmp/mk.result 2>/dev/null)" = failed ] && grep -q 'Permission denied' /tmp/mk.err && [ ! -d /tmp/mk.target ]; then
            pass kfail.fail-function-target
        else
            fail kfail.fail-function-target "result '$(cat /tmp/mk.result 2>/dev/null)', stderr: $(head -c 200 /tmp/mk.err)"
        fi
        kfail-fi off >/tmp/off.txt 2>&1 || fail kfail.fail-function-off "$(cat /tmp/off.txt)"
        expect_eq kfail.fail-function-restored "$(knob_line fail_function)" "$before_func"
    fi
fi

# --- the lease ends by itself ------------------------------------------------
sleep 1000 &
spid=$!
if kfail-fi arm failslab --tgid "$spid" --times 1 --duration 2s >/dev/null 2>/tmp/arm.err; then
    i=0
    while [ "$i" -lt 30 ] && [ "$(knob_line failslab)" != "$before_slab" ]; do
        sleep 0.5
        i=$((i + 1))
    done
    expect_eq kfail.lease-restored "$(knob_line failslab)" "$before_slab"
    expect_eq kfail.lease-unmarked "$(cat "/proc/$spid/make-it-fail")" 0
else
    fail kfail.lease "$(head -c 300 /tmp/arm.err)"
fi

# --- kill -9 after applying, then recover -------------------------------------
KVMFI_TEST_DIE_AFTER_APPLY=1 kfail-fi arm failslab --tgid "$spid" --times 3 >/dev/null 2>&1
rc=$?
expect_eq kfail.killed "$rc" 137
expect_match kfail.killed-armed "$(knob_line failslab)" 'probability=100 interval=1 times=3'
kfail-fi recover >/tmp/rec.txt 2>&1 || fail kfail.recover "$(cat /tmp/rec.txt)"
expect_eq kfail.recover-restored "$(knob_line failslab)" "$before_slab"
expect_eq kfail.recover-unmarked "$(cat "/proc/$spid/make-it-fail")" 0
if pgrep -f 'kvmfi-tag=kfail-fi' >/dev/null 2>&1; then
    fail kfail.recover-lease "the lease helper is still running after recover"
else
    pass kfail.recover-lease
fi
kill -9 "$spid" 2>/dev/null
expect_eq kfail.journal-empty "$(kfail-fi status | grep -c "$(printf '	kfail-fi	')")" 0

# put the framework back to its boot defaults for the scenarios after this one
for f in failslab fail_function; do
    echo 0 >"$D/$f/probability"
    echo 1 >"$D/$f/interval"
    echo 1 >"$D/$f/times"
    echo N >"$D/$f/task-filter"
done
echo 2 >"$D/failslab/verbose"
echo 2 >"$D/fail_function/verbose"

if bad=$(dmesg_bad); then
    fail kfail.kernel-log "$(echo "$bad" | head -n 3)"
else
    pass kfail.kernel-log
fi
exit 0
