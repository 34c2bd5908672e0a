#!/bin/sh
# bench-timeout: 180
# vfs-write-fi on a real kernel: a skipped write reaches nothing, scope,
# bounds, counters, unload.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=vfs-write-fi
F=/tmp/vfs-write.data

# 1. the target's writes fail with ENOSPC (default) and nothing reaches the
#    file, which stays byte-identical; another writer is unaffected
printf 'original contents\n' >$F
before=$(md5sum <$F)
sh -c 'kill -STOP $$; exec fi-probe append "$0" --count 4 --size 8' $F >/tmp/w.out &
pid=$!
wait_stopped $pid
$T arm --tgid $pid --path $F >/dev/null
arm_rc=$?
kill -CONT $pid; wait $pid
out=$(cat /tmp/w.out)
expect_eq write.arm-rc "$arm_rc" 0
expect_eq write.target-fails-enospc "$(kv err "$out"),$(kv first_errno "$out")" "4,ENOSPC"
expect_eq write.file-byte-identical "$(md5sum <$F)" "$before"
expect_eq write.counters-agree "$(st injected)" 4
matrix_row $T write.target-fails-enospc
other=$(fi-probe write /tmp/vfs-write.other --count 3 --size 8)
expect_eq write.other-writer-ok "$(kv ok "$other"),$(kv err "$other")" "3,0"
$T off

# 2. chosen errno, --times, --empty (returns 0: nothing written)
$T arm --comm fi-probe --path $F --errno EROFS --times 2 --replace >/dev/null
out=$(fi-probe append $F --count 5 --size 4)
expect_eq write.times-2-erofs "$(kv err "$out"),$(kv first_errno "$out"),$(kv ok "$out")" "2,EROFS,3"
expect_eq write.self-disarm "$(st state),$(st last-end)" "disarmed,times-reached"
size_before=$(wc -c <$F)
$T arm --comm fi-probe --path $F --empty --times 1 --replace >/dev/null
out=$(fi-probe append $F --count 1 --size 4)
expect_eq write.empty-writes-nothing "$(kv short "$out"),$(wc -c <$F)" "1,$size_before"

# 3. unload while a writer hammers: no Oops
dmesg_mark
$T arm --comm fi-probe --path $F --probability 30 --duration 0 --replace >/dev/null
fi-probe append $F --count 100000000 --size 1 --alarm 100 >/dev/null &
w=$!
sleep 2
$T unload
rc=$?
kill -0 $w; alive=$?
kill $w; wait $w 2>/dev/null
expect_eq write.unload-under-load "$rc,$alive" "0,0"
bad=$(dmesg_bad)
if [ -z "$bad" ]; then pass write.no-oops; else fail write.no-oops "$bad"; fi
