#!/bin/sh
# 17-kfail: kfail-fi drives the kernel's own fault-injection framework.
# On kernels without it (every Debian kernel) kfail-fi must say so (exit 4)
# and the rest is skipped; on the debug kernel (x86_64-6.1-debug):
# - failslab and fail_page_alloc with make-it-fail: a targeted shell sees
#   ENOMEM ("Cannot allocate memory") creating and writing files while
#   another shell does not;
# - fail_make_request: the target's O_DIRECT reads of a marked loop device
#   fail with EIO while another process reads and writes it;
# - fail_function on syscalls of the kernel's allow-list: mkdir fails with
#   EACCES for the target only;
# - the knobs (and the task and device marks) come back exactly as they
#   were after `off`, after the lease, and after kill -9 of kfail-fi +
#   `recover`.
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

# Distinctive previous values, harmless: the task filter is on and the
# interval is a million. make-it-fail is one mark for every facility, so
# the target of one facility is a marked task for the others too: with a
# small interval their probability hits it (seen: a failslab preset of
# probability 7 interval 3 failed one allocation of the fail_function
# target, and failslab's times went from 42 to 41).
preset() { # dir
    echo Y >"$1/task-filter"
    echo 7 >"$1/probability"
    echo 1000000 >"$1/interval"
    echo 42 >"$1/times"
    echo 0 >"$1/space"
    echo 0 >"$1/verbose"
}
for f in failslab fail_page_alloc fail_make_request fail_function; do
    preset "$D/$f"
done
echo Y >"$D/failslab/ignore-gfp-wait"
echo Y >"$D/fail_page_alloc/ignore-gfp-wait"
echo Y >"$D/fail_page_alloc/ignore-gfp-highmem"
echo 3 >"$D/fail_page_alloc/min-order"
before_slab=$(knob_line failslab)
before_page=$(knob_line fail_page_alloc)
before_req=$(knob_line fail_make_request)
before_func=$(knob_line fail_function)
expect_match kfail.status "$before_slab" 'probability=7 interval=1000000 times=42 .*task-filter=Y'
expect_match kfail.status-page-alloc "$before_page" 'probability=7 interval=1000000 times=42 .*ignore-gfp-highmem=Y min-order=3'
expect_match kfail.status-request "$before_req" 'probability=7 interval=1000000 times=42 .*devices=-$'

# The allocation-heavy worker: 20 file creations from the shell itself
# (each open allocates a struct file and a name buffer from slab caches,
# each write a page cache page: __GFP_HIGHMEM, which fail_page_alloc
# leaves alone unless ignore-gfp-highmem is N, kfail-fi's default). A first
# round before the stop touches every page the shell needs (and nothing
# forks after it): otherwise fail_page_alloc spends its --times on the
# shell's own page faults, which the kernel retries unseen (seen: ok=20).
# Its stderr file gets its page cache page first too, or the ENOMEM
# message is lost with it (seen: bad=1 and an empty stderr).
cat >/tmp/alloc.sh <<'EOF'
exec 2>"/tmp/alloc.$1.err"
echo "alloc.sh $1:" >&2
round() {
    ok=0 bad=0
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        if echo x >"/tmp/alloc.$1.$i"; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    done
}
round "$1.warm"
[ "$2" = stop ] && kill -STOP $$
round "$1"
echo "ok=$ok bad=$bad" >"/tmp/alloc.$1.result"
EOF

# --- failslab, fail_page_alloc with make-it-fail -----------------------------
# alloc_case FACILITY NAME TIMES KNOBS BEFORE: the stopped worker is armed
# with --times TIMES (the knobs then match KNOBS); an unmarked worker
# creates its 20 files while it is armed; the target then sees 1 to TIMES
# of its 20 fail with ENOMEM (a failure may also land on another allocation
# of the shell: page faults, retried, still take 0-3 of fail_page_alloc's);
# off puts back the status line BEFORE.
alloc_case() {
    rm -f /tmp/alloc.target.* /tmp/alloc.other.*
    sh /tmp/alloc.sh target stop &
    tpid=$!
    if ! wait_stopped "$tpid"; then
        fail "$2" "target $tpid did not stop"
        return
    fi
    kfail-fi arm "$1" --tgid "$tpid" --times "$3" --duration 5m >/dev/null 2>/tmp/arm.err
    rc=$?
    if [ "$rc" != 0 ]; then
        fail "$2-arm" "rc=$rc: $(head -c 300 /tmp/arm.err)"
        kill -9 "$tpid" 2>/dev/null
        return
    fi
    expect_match "$2-knobs" "$(knob_line "$1")" "$4"
    expect_eq "$2-marked" "$(cat "/proc/$tpid/make-it-fail")" 1
    # another shell, not marked, while the fault is armed
    sh /tmp/alloc.sh other
    expect_eq "$2-other" "$(cat /tmp/alloc.other.result 2>/dev/null)" "ok=20 bad=0"
    kill -CONT "$tpid"
    wait "$tpid"
    res=$(cat /tmp/alloc.target.result 2>/dev/null)
    bad=$(kv bad "$res")
    if [ -n "$bad" ] && [ "$bad" -ge 1 ] && [ "$bad" -le "$3" ] && grep -Eq 'Cannot allocate memory|Out of memory' /tmp/alloc.target.err; then
        pass "$2-target"
    else
        fail "$2-target" "result '$res', stderr: $(head -c 200 /tmp/alloc.target.err)"
    fi
    kfail-fi off >/tmp/off.txt 2>&1 || fail "$2-off" "$(cat /tmp/off.txt)"
    expect_eq "$2-restored" "$(knob_line "$1")" "$5"
}
alloc_case failslab kfail.failslab 5 \
    'probability=100 interval=1 times=5 .*task-filter=Y ignore-gfp-wait=N' "$before_slab"
alloc_case fail_page_alloc kfail.page-alloc 10 \
    'probability=100 interval=1 times=10 .*task-filter=Y ignore-gfp-wait=N ignore-gfp-highmem=N min-order=0' "$before_page"

# --- fail_make_request: a marked device, the target's direct reads fail ------
load_image_module loop 2>/dev/null
dd if=/dev/zero of=/tmp/req.img bs=1M count=4 2>/dev/null
L=$(losetup -f 2>/dev/null)
if [ -z "$L" ] || ! losetup "$L" /tmp/req.img 2>/tmp/losetup.err; then
    fail kfail.request-loop "no loop device: $(cat /tmp/losetup.err 2>/dev/null)"
else
    dev=${L#/dev/}
    sh -c 'kill -STOP $$; exec fi-probe read "$0" --direct --size 4096 --count 3' "$L" >/tmp/req.target &
    tpid=$!
    if ! wait_stopped "$tpid"; then
        fail kfail.request "target $tpid did not stop"
    elif ! kfail-fi arm fail_make_request --device "$dev" --tgid "$tpid" --duration 5m >/dev/null 2>/tmp/arm.err; then
        fail kfail.request-arm "$(head -c 300 /tmp/arm.err)"
        kill -9 "$tpid"
    else
        expect_match kfail.request-knobs "$(knob_line fail_make_request)" \
            "probability=100 interval=1 times=-1 .*task-filter=Y devices=$dev\$"
        expect_eq kfail.request-device-marked "$(cat "/sys/class/block/$dev/make-it-fail")" 1
        # another process reads and writes the marked device while it is armed
        expect_match kfail.request-other-read "$(fi-probe read "$L" --direct --size 4096 --count 3)" '^ok=3 err=0'
        expect_match kfail.request-other-write "$(fi-probe pwrite "$L" --direct --size 4096 --count 3)" '^ok=3 err=0'
        kill -CONT "$tpid"
        wait "$tpid"
        expect_match kfail.request-target-eio "$(cat /tmp/req.target)" '^ok=0 err=3 .*first_errno=EIO'
        kfail-fi off >/tmp/off.txt 2>&1 || fail kfail.request-off "$(cat /tmp/off.txt)"
        expect_eq kfail.request-restored "$(knob_line fail_make_request)" "$before_req"
        expect_eq kfail.request-device-unmarked "$(cat "/sys/class/block/$dev/make-it-fail")" 0
    fi
    losetup -d "$L"
fi
rm -f /tmp/req.img

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
        # the presets of the other facilities hit marked tasks too: said
        expect_match kfail.fail-function-shared-mark-note "$(cat /tmp/arm.err)" \
            'note: failslab is armed \(probability 7, interval 1000000, times 42\)'
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
    while [ "$i" -lt 60 ] && [ "$(knob_line failslab)" != "$before_slab" ]; do
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
# any live kfail-fi process left is a lease helper (busybox has no pgrep)
left=
for p in /proc/[0-9]*; do
    read -r _ c st _ 2>/dev/null <"$p/stat" || continue
    if [ "$c" = "(kfail-fi)" ] && [ "$st" != Z ]; then left="$left ${p#/proc/}"; fi
done
if [ -n "$left" ]; then
    fail kfail.recover-lease "the lease helper is still running after recover"
else
    pass kfail.recover-lease
fi
kill -9 "$spid" 2>/dev/null
expect_eq kfail.journal-empty "$(kfail-fi status | grep -c "$(printf '	kfail-fi	')")" 0

# put the framework back to its boot defaults for the scenarios after this one
for f in failslab fail_page_alloc fail_make_request fail_function; do
    echo 0 >"$D/$f/probability"
    echo 1 >"$D/$f/interval"
    echo 1 >"$D/$f/times"
    echo N >"$D/$f/task-filter"
    echo 2 >"$D/$f/verbose"
done
echo 1 >"$D/fail_page_alloc/min-order"

if bad=$(dmesg_bad); then
    fail kfail.kernel-log "$(echo "$bad" | head -n 3)"
else
    pass kfail.kernel-log
fi
exit 0
