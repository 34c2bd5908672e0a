#!/bin/sh
# bench-timeout: 180
# func-fail-fi: any function fails for the target only, skipping
# its body; the deny-list refuses a known-unsafe function.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=func-fail-fi
F=/tmp/ff.data
printf 'x\n' >$F

# 1. open() fails with EACCES for the target (do_sys_openat2 skipped), not for others
if kallsyms_has do_sys_openat2; then
    sh -c 'kill -STOP $$; exec fi-probe read "$0" --count 3 --size 1' $F >/tmp/ff.out &
    pid=$!
    wait_stopped $pid
    id=$($T arm --function do_sys_openat2 --errno EACCES --tgid $pid --times 3)
    kill -CONT $pid; wait $pid
    out=$(cat /tmp/ff.out)
    other=$(fi-probe read $F --count 3 --size 1)
    expect_eq func.open-fails-for-target "$(kv err "$out"),$(kv first_errno "$out")" "3,EACCES"
    expect_eq func.open-ok-for-others "$(kv err "$other")" 0
    expect_eq func.injected-counter "$($T status | awk '$1 == "injected" { print $2 }')" 3
    expect_eq func.events "$($T events | grep -c ' inject .*value=-13 ')" 3
    # each failed open is an event of this experiment, in the target, with the errno
    expect_exp_events func.events-target "$id" 3 " pid=$pid tgid=$pid comm=fi-probe what=return value=-13 "
    matrix_row $T func.open-fails-for-target
else
    fail func.open-fails-for-target "do_sys_openat2 not in kallsyms"
fi

# 2. another function: the module is reloaded for it; mkdir fails with ENOSPC
# (security_inode_mkdir, the check inside vfs_mkdir: from 6.15 vfs_mkdir
# releases its dentry on its own error path, so it is denied there; a skip
# of it hung the directory on 7.3)
sh -c 'kill -STOP $$; exec mkdir /tmp/ff-newdir' 2>/tmp/mk.err &
pid=$!
wait_stopped $pid
id=$($T arm --function security_inode_mkdir --errno ENOSPC --tgid $pid)
arm_rc=$?
kill -CONT $pid; wait $pid
mk_rc=$?
expect_eq func.reload-for-other-function "$arm_rc,$(cat /sys/module/func_fail_fi/parameters/symbol)" "0,security_inode_mkdir"
expect_eq func.mkdir-fails "$mk_rc,$([ -d /tmp/ff-newdir ] && echo made || echo absent)" "1,absent"
expect_match func.mkdir-errno "$(cat /tmp/mk.err)" "No space left on device"
expect_exp_events func.mkdir-event "$id" 1 " pid=$pid tgid=$pid comm=mkdir what=return value=-28 "
if mkdir /tmp/ff-other; then pass func.mkdir-ok-for-others; else fail func.mkdir-ok-for-others "mkdir failed"; fi
$T off
# vfs_mkdir: allowed before 6.15, refused (usage, exit 2) from 6.15 on, nothing armed
case $BENCH_SERIES in 5.* | 6.[0-9] | 6.1[0-4]) want=0 ;; *) want=2 ;; esac
$T arm --function vfs_mkdir --tgid $$ >/tmp/deny.out 2>&1
rc=$?
$T off >/dev/null 2>&1
expect_eq func.vfs-mkdir-denied-from-6.15 "$rc" "$want"
[ "$want" = 0 ] || expect_match func.vfs-mkdir-deny-reason "$(cat /tmp/deny.out)" "from kernel 6.15"

# 3. the deny-list refuses a known-unsafe function, nothing is armed
$T arm --function mutex_lock --tgid $$ >/tmp/deny.out 2>&1
rc=$?
expect_eq func.deny-list-rc "$rc" 2
expect_match func.deny-list-msg "$(cat /tmp/deny.out)" "deny-list"
expect_eq func.deny-list-nothing-armed "$($T status | awk '$1 == "state" { print $2 }')" disarmed
$T arm --function handle_mm_fault --tgid $$ >/tmp/deny.out 2>&1
expect_match func.dedicated-tool-named "$(cat /tmp/deny.out)" "mm-fault-fi"
$T arm --function no_such_function_kvmfi --tgid $$ >/tmp/deny.out 2>&1
expect_eq func.unknown-function-rc "$?" 4
$T unload
bad=$(dmesg_bad)
if [ -z "$bad" ]; then pass func.no-oops; else fail func.no-oops "$bad"; fi
