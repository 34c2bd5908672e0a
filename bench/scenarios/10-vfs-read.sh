#!/bin/sh
# bench-timeout: 240
# vfs-read-fi on a real kernel: scope, path, bounds, lease, off, counters,
# unload under load, bad input, permissions.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=vfs-read-fi
F=/tmp/vfs-read.data
G=/tmp/vfs-read.other
printf 'hello world\n' >$F
printf 'another file\n' >$G

# target ARM_ARGS PROBE_ARGS...: run_armed (lib.sh) for fi-probe.
target() { run_armed fi-probe "$@"; }

# 1. the target's reads fail with the chosen errno, a second reader succeeds
out=$(target "--path $F --errno EIO --replace" read $F --count 5 --size 1)
other=$(fi-probe read $F --count 5 --size 1)
expect_eq read.arm-rc "$(cat /tmp/arm.rc)" 0
expect_eq read.target-fails-eio "$(kv err "$out"),$(kv first_errno "$out")" "5,EIO"
expect_eq read.other-reader-ok "$(kv ok "$other"),$(kv err "$other")" "5,0"
expect_eq read.counters-agree "$(st injected)" 5
expect_ge read.probe-hits "$(st hits)" 5
matrix_row $T read.target-fails-eio
$T off

# 2. --path: the target's reads of another file succeed; another errno works
out=$(target "--path $F --errno EINTR --replace" read $G --count 3 --size 1)
expect_eq read.path-limits-scope "$(kv ok "$out"),$(kv err "$out")" "3,0"
out=$(fi-probe read $F --count 1 --size 1)
expect_eq read.path-other-process "$(kv err "$out")" 0
$T off

# 2b. a directory tree: every file below it
mkdir -p /tmp/tree/sub && printf 'x\n' >/tmp/tree/sub/disk.img
out=$(target "--path /tmp/tree --errno EROFS --replace" read /tmp/tree/sub/disk.img --count 2 --size 1)
expect_eq read.path-tree "$(kv err "$out"),$(kv first_errno "$out")" "2,EROFS"
$T off

# 3. --times 3 gives exactly 3 failures, then the module disarms itself
out=$(target "--times 3 --replace" read $F --count 10 --size 1)
expect_eq read.times-3 "$(kv err "$out"),$(kv ok "$out")" "3,7"
expect_eq read.times-self-disarm "$(st state),$(st last-end)" "disarmed,times-reached"

# 4. probability 0 gives none, 100 gives all
out=$(target "--probability 0 --replace" read $F --count 20 --size 1)
expect_eq read.probability-0 "$(kv err "$out")" 0
expect_eq read.probability-0-injected "$(st injected)" 0
out=$(target "--probability 100 --replace" read $F --count 20 --size 1)
expect_eq read.probability-100 "$(kv err "$out")" 20
# 50%: some but not all of 400 (bounds wide enough to never flake: p < 1e-30)
out=$(target "--probability 50 --replace" read $F --count 400 --size 1)
e=$(kv err "$out")
if [ "$e" -gt 100 ] && [ "$e" -lt 300 ]; then pass read.probability-50; else fail read.probability-50 "err=$e of 400"; fi
# --interval 4: every 4th call fails
out=$(target "--interval 4 --replace" read $F --count 20 --size 1)
expect_eq read.interval-4 "$(kv err "$out")" 5
# --space 10: the first 10 bytes go through, then every call fails
out=$(target "--space 10 --replace" read $F --count 20 --size 1)
expect_eq read.space-10 "$(kv ok "$out"),$(kv err "$out")" "10,10"
$T off

# 5. off stops faults at once: the very next call after `off` succeeds
$T arm --comm fi-probe --path $F --replace >/dev/null
before=$(fi-probe read $F --count 3 --size 1)
$T off
after=$(fi-probe read $F --count 3 --size 1)
expect_eq read.off-stops-at-once "$(kv err "$before"),$(kv err "$after")" "3,0"
expect_eq read.off-state "$(st state),$(st last-end)" "disarmed,off"

# 6. --duration expires by itself
$T arm --comm fi-probe --duration 1s --replace >/dev/null
out=$(fi-probe read $F --count 2 --size 1)
expect_eq read.lease-active "$(kv err "$out")" 2
sleep 2
out=$(fi-probe read $F --count 2 --size 1)
expect_eq read.lease-expired "$(kv err "$out"),$(st state),$(st last-end)" "0,disarmed,lease-expired"

# 7. rmmod while two readers hammer the path: no Oops, readers survive
dmesg_mark
$T arm --comm fi-probe --path $F --probability 50 --duration 0 --replace >/dev/null
fi-probe read $F --count 100000000 --size 1 --alarm 100 >/dev/null &
h1=$!
fi-probe read $F --count 100000000 --size 1 --alarm 100 >/dev/null &
h2=$!
sleep 2
inj=$($T status | awk '$1 == "injected" { print $2 }')
rmmod file_read_fi
rm_rc=$?
sleep 1
kill -0 $h1 && kill -0 $h2
alive=$?
kill $h1 $h2 2>/dev/null
wait $h1 $h2 2>/dev/null
expect_eq read.rmmod-under-load "rmmod=$rm_rc,readers-alive=$alive" "rmmod=0,readers-alive=0"
expect_ge read.rmmod-load-was-injecting "$inj" 1
bad=$(dmesg_bad)
if [ -z "$bad" ]; then pass read.rmmod-no-oops; else fail read.rmmod-no-oops "$bad"; fi
after=$(fi-probe read $F --count 3 --size 1)
expect_eq read.after-rmmod-reads-ok "$(kv err "$after")" 0

# 8. bad input: usage error, exit 2, nothing armed (module not even loaded)
for args in "--probability 101" "--times -2" "--errno EWHAT" "--duration 3x" "--pid 0" "--comm waytoolongcommandname" "--interval 0" ""; do
    # shellcheck disable=SC2086
    $T arm $args >/tmp/bad.out 2>&1
    rc=$?
    name=$(echo "bad-input${args:+.$args}" | tr -c 'A-Za-z0-9.\n-' '_')
    if [ "$rc" = 2 ] && [ "$(wc -l </tmp/bad.out)" -ge 1 ] && ! grep -q panicked /tmp/bad.out; then
        pass "read.$name"
    else
        fail "read.$name" "rc=$rc $(head -c 200 /tmp/bad.out)"
    fi
done
expect_eq read.bad-input-nothing-loaded "$(mod_loaded file-read-fi && echo loaded || echo absent)" absent

# 9. a dead pid and an unknown function: clear errors
$T arm --tgid 999999 >/tmp/e.out 2>&1
rc=$?
if [ "$rc" = 5 ] && grep -q 'no such process' /tmp/e.out; then pass read.dead-pid; else fail read.dead-pid "rc=$rc $(cat /tmp/e.out)"; fi
$T unload
$T arm --tgid 1 --symbol no_such_function_kvmfi >/tmp/e.out 2>&1
rc=$?
if [ "$rc" = 4 ] && grep -q 'no_such_function_kvmfi' /tmp/e.out; then pass read.unknown-symbol; else fail read.unknown-symbol "rc=$rc $(cat /tmp/e.out)"; fi

# 10. permissions: the CLI refuses non-root, and so does the module itself
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
sleep 300 &
sleeper=$!
$T arm --tgid $sleeper >/dev/null
su nobody -s /bin/sh -c "$T arm --tgid $sleeper" >/tmp/p.out 2>&1
rc=$?
if [ "$rc" = 3 ] && grep -q root /tmp/p.out; then pass read.non-root-cli; else fail read.non-root-cli "rc=$rc $(cat /tmp/p.out)"; fi
expect_eq read.device-mode "$(stat -c %a /dev/kvmfi/file_read_fi)" 600
chmod 666 /dev/kvmfi/file_read_fi
out=$(su nobody -s /bin/sh -c "cat /dev/kvmfi/file_read_fi" 2>&1)
expect_match read.non-root-module-refuses "$out" "Operation not permitted"
chmod 600 /dev/kvmfi/file_read_fi
expect_eq read.legacy-proc-mode "$(stat -c %a /proc/file-read-fi/signal)" 600
su nobody -s /bin/sh -c "echo 0 > /proc/file-read-fi/signal" 2>/dev/null
expect_eq read.legacy-proc-non-root "$?,$(cat /proc/file-read-fi/signal)" "1,1"
$T off
kill $sleeper

# 11. legacy control files are readable and validated (arming through them is
# system-wide, as the original was; the compatibility suite covers that)
expect_eq read.legacy-signal-readable "$(cat /proc/file-read-fi/signal)" 0
echo 1 >/proc/file-read-fi/type
if echo 9 >/proc/file-read-fi/type 2>/dev/null; then rc=0; else rc=1; fi
expect_eq read.legacy-bad-value-refused "$rc,$(cat /proc/file-read-fi/type)" "1,1"
$T unload
expect_eq read.unload "$(mod_loaded file-read-fi && echo loaded || echo absent)" absent
