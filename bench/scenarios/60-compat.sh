#!/bin/sh
# bench-timeout: 300
# Compatibility suite (issue 11): the command lines of the original C tools'
# documentation, verbatim, for all 11 modules: `insmod NAME.ko` from the
# module directory, the writes to /proc/DIR/KNOB read back with cat, the
# `*-main` programs with their documented arguments and with the original
# stdin prompts piped in, `rmmod NAME`. Each step checks what the
# documentation promises, as a user sees it, plus the hit counters; and that
# the original's bugs are fixed (bad values refused and unchanged, knobs 0600
# root only, pt-update injects, kvm-state does not fail every vCPU ioctl,
# vm-migration can be disarmed, kswapd does not oops).
#
# The original faults are system-wide. Whatever could hit /init or this shell
# is either armed from a `sh -c` that then execs the program that consumes
# every injection (this shell is blocked in wait meanwhile: no read, write,
# fork or page fault of its own), or armed with times 0 (nothing injected).
. /bench/lib.sh
export KVMFI_MODULE_DIR="$KMODS"
C=compat
dmesg_mark

# The legacy program names, as `make install` links them (LEGACY_LINKS in
# the root Makefile): NAME -> binary, a relative link in the same directory.
for l in file-read-fi-main:vfs-read-fi file-write-fi-main:vfs-write-fi \
    pt-load-fi-main:mm-fault-fi pt-update-fi-main:tlb-flush-fi memory-main:memslot-fi \
    kswapd-fi-main:kswapd-fi resource-main:kvm-ioctl-fi kvm-state-fi-main:vcpu-state-fi \
    kvm-version-fi-main:kvm-version-fi vm-migration-fi-main:dirty-log-fi; do
    [ -e "/usr/bin/${l#*:}" ] && (cd /usr/bin && ln -sf "${l#*:}" "${l%%:*}")
done
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group

# tool_st TOOL KEY: one field of `TOOL status`.
tool_st() { "$1" status | awk -v k="$2" '$1 == k { print $2 }'; }
# dinsmod NAME.ko: the documented `insmod NAME.ko`, run in the module directory.
dinsmod() { (cd "$KMODS" && insmod "$1"); }
# knobs_ok P DIR KNOB...: every control file exists, is 0600 root, readable
# by cat (an integer), and refused to a non-root user (read and write).
knobs_ok() {
    _p=$1 _d=/proc/$2
    shift 2
    _bad=""
    for _k in signal "$@"; do
        _f=$_d/$_k
        [ -f "$_f" ] || { _bad="$_bad $_k:missing"; continue; }
        [ "$(stat -c %a:%u "$_f")" = 600:0 ] || _bad="$_bad $_k:$(stat -c %a:%u "$_f")"
        # shellcheck disable=SC2002 # cat, as the documentation reads them
        cat "$_f" | grep -Eqx -- '-?[0-9]+' || _bad="$_bad $_k:unreadable"
        su nobody -s /bin/sh -c "cat $_f" >/dev/null 2>&1 && _bad="$_bad $_k:non-root-read"
    done
    su nobody -s /bin/sh -c "echo 1 > $_d/signal" 2>/dev/null && _bad="$_bad signal:non-root-write"
    if [ -z "$_bad" ]; then pass "$_p.knobs-0600-root-readable"; else fail "$_p.knobs-0600-root-readable" "$_bad"; fi
}
# refused P FILE VALUE: writing VALUE fails and the value read back is unchanged.
refused() {
    _before=$(cat "$2")
    echo "$3" >"$2" 2>/dev/null
    # shellcheck disable=SC2320 # the status of that echo is the point
    _rc=$?
    _after=$(cat "$2")
    if [ "$_rc" != 0 ] && [ "$_after" = "$_before" ]; then
        pass "$1"
    else
        fail "$1" "echo '$3' > $2: rc $_rc, value '$_before' -> '$_after'"
    fi
}
# setk DIR KNOB=VALUE...: the documented writes, each read back with cat.
setk() {
    _d=/proc/$1
    shift
    for _kv in "$@"; do
        echo "${_kv#*=}" >"$_d/${_kv%%=*}"
    done
}
# knobs DIR KNOB...: "v1,v2,..." read with cat.
knobs() {
    _d=/proc/$1
    shift
    _o=""
    for _k in "$@"; do _o="$_o${_o:+,}$(cat "$_d/$_k")"; done
    echo "$_o"
}
# loaded P NAME.ko TAG DIR KNOB...: the documented `insmod NAME.ko` in the
# module directory; its dmesg line with the original prefix TAG; the control
# files of /proc/DIR (see knobs_ok).
loaded() {
    _p=$1 _ko=$2 _tag=$3
    shift 3
    _m=$(dmesg | wc -l)
    dinsmod "$_ko"
    expect_eq "$_p.insmod" "$?" 0
    if dmesg | tail -n +"$((_m + 1))" | grep -qF "$_tag kprobe registered at"; then pass "$_p.insmod-dmesg-tag"; else fail "$_p.insmod-dmesg-tag" "no '$_tag kprobe registered at' line"; fi
    knobs_ok "$_p" "$@"
}
# removed P MODNAME DIR: after rmmod, the module and its /proc directory are gone.
removed() {
    if [ ! -d "/sys/module/$2" ] && [ ! -e "/proc/$3" ]; then pass "$1.rmmod"; else fail "$1.rmmod" "still there"; fi
}
# sig_after DIR: the signal knob once the deferred disarm has run.
sig_after() {
    _i=0
    while [ "$_i" -lt 20 ] && [ "$(cat "/proc/$1/signal")" != 0 ]; do sleep 0.1; _i=$((_i + 1)); done
    cat "/proc/$1/signal"
}

# ---------------------------------------------------------------- cpu-reg
P=$C.cpu-reg
if has_kmod cpu-reg; then
    loaded $P cpu-reg.ko '[CPU-Fi]' cpu-general-fi times aim lasting
    refused $P.bad-aim /proc/cpu-general-fi/aim 2048
    refused $P.bad-times /proc/cpu-general-fi/times -2
    refused $P.bad-signal /proc/cpu-general-fi/signal 2
    refused $P.not-a-number /proc/cpu-general-fi/lasting abc
    # `printf '512\n5\n0\n' | cpu-reg-main`: a PC bit flip, 5 times, every
    # process. (A random PC bit flip of any new task could do anything: the
    # arm is checked, then disarmed without a fork in between.)
    printf '512\n5\n0\n' | cpu-reg-main >/tmp/cpu.out 2>&1
    rc=$?
    read -r sig </proc/cpu-general-fi/signal
    read -r aim </proc/cpu-general-fi/aim
    read -r times </proc/cpu-general-fi/times
    read -r lasting </proc/cpu-general-fi/lasting
    echo 0 >/proc/cpu-general-fi/signal
    expect_eq $P.prompts-armed "$rc,$sig" "0,1"
    expect_match $P.prompts-pc-flip-5 "$(cat /tmp/cpu.out)" 'the next 5 task\(s\) created by any process will flip a random bit of (pc|rip|PC|RIP)'
    expect_eq $P.prompts-knobs "$aim,$times,$lasting" "512,5,0"
    expect_eq $P.prompts-off "$(cat /proc/cpu-general-fi/signal),$(tool_st cpu-reg-main injected)" "0,0"
    # The /proc knobs: PC set to 0 (lasting 1), twice: the next two programs
    # started anywhere (this shell's forks) die with SIGSEGV, the third runs.
    setk cpu-general-fi aim=512 lasting=1 times=2
    expect_eq $P.knobs-read-back "$(knobs cpu-general-fi aim lasting times)" "512,1,2"
    echo 1 >/proc/cpu-general-fi/signal
    rcs=""
    for _ in 1 2 3; do
        mm-test thread >/dev/null 2>&1
        rcs="$rcs $?"
    done
    expect_eq $P.signal-pc-zero-twice "$rcs" " 139 139 0"
    expect_eq $P.signal-times-reached "$(sig_after cpu-general-fi),$(tool_st cpu-reg-main injected),$(tool_st cpu-reg-main last-end)" "0,2,times-reached"
    expect_ge $P.hits "$(tool_st cpu-reg-main hits)" 2
    # `cpu-reg-main PID 1`: a PC bit flip of the next task PID creates.
    sh -c 'kill -STOP $$; exec mm-test thread' >/dev/null 2>&1 &
    pid=$!
    wait_stopped $pid
    cpu-reg-main $pid 1 >/dev/null
    expect_eq $P.pid-type-armed "$?" 0
    kill -CONT $pid
    wait $pid
    rc=$?
    other=$(mm-test thread)
    expect_eq $P.pid-type-injected-once "$(tool_st cpu-reg-main injected),$(tool_st cpu-reg-main state)" "1,disarmed"
    expect_match $P.pid-type-pc-flipped "$(dmesg_since | grep '\[CPU-Fi\].* injected flip-' | tail -n 1)" 'injected flip-(PC|RIP) '
    echo "cpu-reg-main PID 1: target rc $rc"
    expect_eq $P.pid-type-others-unaffected "$other" "child_reg=0x1234"
    rmmod cpu_reg
    removed $P cpu_reg cpu-general-fi
else
    skip $P "cpu-reg.ko not built for this kernel"
fi

# ---------------------------------------------------------------- file-read-fi
P=$C.file-read
F=/tmp/compat.data
printf 'hello world\n' >$F
loaded $P file-read-fi.ko '[ARM-Fi-Read]' file-read-fi times type
refused $P.bad-type /proc/file-read-fi/type 2
refused $P.bad-times /proc/file-read-fi/times -5
refused $P.bad-signal /proc/file-read-fi/signal 7
# type 1 (buffer NULL): reads fail with EFAULT, `times` of them, then disarmed.
setk file-read-fi type=1 times=3
expect_eq $P.knobs-read-back "$(knobs file-read-fi type times signal)" "1,3,0"
sh -c 'echo 1 > /proc/file-read-fi/signal; exec fi-probe read "$0" --count 5 --size 1' $F >/tmp/o
out=$(cat /tmp/o)
expect_eq $P.type1-efault-3 "$(kv err "$out"),$(kv first_errno "$out"),$(kv ok "$out")" "3,EFAULT,2"
expect_eq $P.type1-counters "$(sig_after file-read-fi),$(tool_st vfs-read-fi injected),$(tool_st vfs-read-fi last-end)" "0,3,times-reached"
expect_ge $P.hits "$(tool_st vfs-read-fi hits)" 3
# type 0 (count 0): reads return nothing.
setk file-read-fi type=0 times=2
sh -c 'echo 1 > /proc/file-read-fi/signal; exec fi-probe read "$0" --count 5 --size 1' $F >/tmp/o
out=$(cat /tmp/o)
expect_eq $P.type0-empty-2 "$(kv ok "$out"),$(kv err "$out"),$(kv bytes "$out")" "5,0,3"
# `file-read-fi-main 1` (type 1; times as set: 2).
sh -c 'file-read-fi-main 1 >/tmp/m.out 2>&1 || exit 9; exec fi-probe read "$0" --count 4 --size 1' $F >/tmp/o
out=$(cat /tmp/o)
expect_match $P.main-arg-armed "$(cat /tmp/m.out)" 'armed file-read-fi'
expect_eq $P.main-arg-efault "$(kv err "$out"),$(kv first_errno "$out")" "2,EFAULT"
# the original prompts: type 1, times 1.
sh -c 'printf "1\n1\n" | file-read-fi-main >/tmp/m.out 2>&1 || exit 9; exec fi-probe read "$0" --count 4 --size 1' $F >/tmp/o
out=$(cat /tmp/o)
expect_eq $P.main-prompts-efault "$(kv err "$out"),$(kv first_errno "$out"),$(knobs file-read-fi type times)" "1,EFAULT,1,1"
# `echo 0 > signal` disarms before any read (unlimited: both in one sh -c,
# which reads nothing, while this shell could read its script in between).
setk file-read-fi times=-1
sh -c 'echo 1 > /proc/file-read-fi/signal; echo 0 > /proc/file-read-fi/signal'
out=$(fi-probe read $F --count 2 --size 1)
expect_eq $P.signal-0-disarms "$(cat /proc/file-read-fi/signal),$(kv err "$out")" "0,0"
rmmod file_read_fi
removed $P file_read_fi file-read-fi

# ---------------------------------------------------------------- file-write-fi
P=$C.file-write
W=/tmp/compat.out
loaded $P file-write-fi.ko '[ARM-Fi-Write]' file-write-fi times type
refused $P.bad-type /proc/file-write-fi/type -1
refused $P.bad-times /proc/file-write-fi/times 1x
setk file-write-fi type=1 times=3
expect_eq $P.knobs-read-back "$(knobs file-write-fi type times)" "1,3"
sh -c 'echo 1 > /proc/file-write-fi/signal; exec fi-probe write "$0" --count 5 --size 4' $W >/tmp/o
out=$(cat /tmp/o)
expect_eq $P.type1-efault-3 "$(kv err "$out"),$(kv first_errno "$out"),$(wc -c <$W)" "3,EFAULT,8"
expect_eq $P.type1-counters "$(sig_after file-write-fi),$(tool_st vfs-write-fi injected)" "0,3"
expect_ge $P.hits "$(tool_st vfs-write-fi hits)" 3
# type 0: nothing written (the write returns 0).
setk file-write-fi type=0 times=2
sh -c 'echo 1 > /proc/file-write-fi/signal; exec fi-probe write "$0" --count 5 --size 4' $W >/tmp/o
out=$(cat /tmp/o)
expect_eq $P.type0-nothing-written "$(kv short "$out"),$(wc -c <$W)" "2,12"
# `file-write-fi-main 1` (times as set: 2) and the prompts (type 1, times 1).
sh -c 'file-write-fi-main 1 >/tmp/m.out 2>&1 || exit 9; exec fi-probe write "$0" --count 4 --size 4' $W >/tmp/o
out=$(cat /tmp/o)
expect_eq $P.main-arg-efault "$(kv err "$out"),$(kv first_errno "$out"),$(wc -c <$W)" "2,EFAULT,8"
sh -c 'printf "1\n1\n" | file-write-fi-main >/tmp/m.out 2>&1 || exit 9; exec fi-probe write "$0" --count 4 --size 4' $W >/tmp/o
out=$(cat /tmp/o)
expect_eq $P.main-prompts-efault "$(kv err "$out"),$(kv first_errno "$out"),$(knobs file-write-fi type times)" "1,EFAULT,1,1"
rmmod file_write_fi
removed $P file_write_fi file-write-fi

# ---------------------------------------------------------------- pt-load-fi
P=$C.pt-load
A=0x20000000
loaded $P pt-load-fi.ko '[ARM-Mem-Fi]' pt-load-fi times type
refused $P.bad-type /proc/pt-load-fi/type -1
refused $P.bad-times /proc/pt-load-fi/times -3
# type 1 (VM_FAULT_SIGBUS), once: the first page fault after `signal` is the
# victim's own (the sh that armed it, exec-ing mm-test): it dies of SIGBUS
# (or its exec fails, when the fault was exec's). This shell only waits.
setk pt-load-fi type=1 times=1
expect_eq $P.knobs-read-back "$(knobs pt-load-fi type times)" "1,1"
sh -c 'echo 1 > /proc/pt-load-fi/signal; exec mm-test touch --addr 0x20000000 --pages 4' >/tmp/o 2>&1
rc=$?
echo "pt-load victim: rc $rc $(cat /tmp/o)"
if [ "$rc" != 0 ]; then pass $P.sigbus-victim-fails; else fail $P.sigbus-victim-fails "rc 0: $(cat /tmp/o)"; fi
expect_eq $P.sigbus-counters "$(sig_after pt-load-fi),$(tool_st mm-fault-fi injected),$(tool_st mm-fault-fi last-end)" "0,1,times-reached"
expect_ge $P.hits "$(tool_st mm-fault-fi hits)" 1
expect_eq $P.after-ok "$(mm-test touch --addr $A --pages 4)" "touched=4"
# `pt-load-fi-main 0` and the prompts, with times 0 (a system-wide page
# fault failure after the program returns could hit this shell).
setk pt-load-fi times=0
out=$(pt-load-fi-main 0 2>&1)
expect_match $P.main-arg-armed "$out" 'armed pt-load-fi'
expect_eq $P.main-arg-knobs "$(knobs pt-load-fi signal type times),$(tool_st mm-fault-fi injected)" "1,0,0,0"
out=$(printf '1\n0\n' | pt-load-fi-main 2>&1)
expect_eq $P.main-prompts-knobs "$(knobs pt-load-fi signal type times)" "1,1,0"
echo 0 >/proc/pt-load-fi/signal
expect_eq $P.signal-0-disarms "$(cat /proc/pt-load-fi/signal),$(tool_st mm-fault-fi state)" "0,disarmed"
rmmod pt_load_fi
removed $P pt_load_fi pt-load-fi

# ---------------------------------------------------------------- pt-update-fi
P=$C.pt-update
if [ "$BENCH_ARCH" = x86_64 ]; then
    loaded $P pt-update-fi.ko '[PT-Fi]' pt-update-fi times
    refused $P.bad-times /proc/pt-update-fi/times -9
    # The original counted hits and injected nothing: now `times` TLB
    # shootdowns are lost (the next multi-threaded flusher's).
    setk pt-update-fi times=3
    echo 1 >/proc/pt-update-fi/signal
    expect_eq $P.knobs-read-back "$(knobs pt-update-fi times signal)" "3,1"
    mm-test tlb-stale --rounds 20 >/dev/null
    expect_eq $P.injects "$(sig_after pt-update-fi),$(tool_st tlb-flush-fi injected),$(tool_st tlb-flush-fi last-end)" "0,3,times-reached"
    expect_ge $P.hits "$(tool_st tlb-flush-fi hits)" 3
    # the original armed on any non-zero signal
    setk pt-update-fi times=1
    echo 2 >/proc/pt-update-fi/signal
    # shellcheck disable=SC2320 # the status of that echo is the point
    expect_eq $P.signal-nonzero-arms "$?,$(cat /proc/pt-update-fi/signal)" "0,1"
    echo 0 >/proc/pt-update-fi/signal
    out=$(pt-update-fi-main 2 2>&1)
    expect_match $P.main-arg-armed "$out" 'armed pt-update-fi'
    mm-test tlb-stale --rounds 20 >/dev/null
    expect_eq $P.main-arg-injects "$(knobs pt-update-fi times),$(tool_st tlb-flush-fi injected)" "2,2"
    printf '1\n' | pt-update-fi-main >/dev/null 2>&1
    mm-test tlb-stale --rounds 20 >/dev/null
    expect_eq $P.main-prompts-injects "$(knobs pt-update-fi times),$(tool_st tlb-flush-fi injected),$(sig_after pt-update-fi)" "1,1,0"
    rmmod pt_update_fi
    removed $P pt_update_fi pt-update-fi
else
    # arm64: TLB maintenance is a broadcast instruction; the module refuses to load, saying why.
    if dinsmod pt-update-fi.ko 2>/dev/null; then
        fail $P.arm64-refused "pt-update-fi.ko loaded"
        rmmod pt_update_fi
    else
        expect_match $P.arm64-refused "$(dmesg_since | grep 'PT-Fi' | tail -n 1)" 'unsupported on this architecture'
    fi
    pt-update-fi-main 1 >/dev/null 2>&1
    expect_eq $P.arm64-main-unsupported "$?" 4
fi

# ---------------------------------------------------------------- kswapd-fi
P=$C.kswapd
loaded $P kswapd-fi.ko '[ARM-Kswapd-Fi]' kswapd-fi times
refused $P.bad-times /proc/kswapd-fi/times -2
refused $P.bad-signal /proc/kswapd-fi/signal 3
# `kswapd-fi-main 5`: kswapd's next 5 reclaim passes skipped (the original
# passed NULL to shrink_node: an oops). kswapd is woken by taking free memory
# below its (raised) low watermark.
out=$(kswapd-fi-main 5 2>&1)
expect_match $P.main-arg-armed "$out" 'armed kswapd-fi'
expect_eq $P.main-arg-knobs "$(knobs kswapd-fi signal times),$(tool_st kswapd-fi remaining)" "1,5,5"
old_wsf=$(cat /proc/sys/vm/watermark_scale_factor)
echo 3000 >/proc/sys/vm/watermark_scale_factor
why=""
for attempt in 1 2; do
    # shellcheck disable=SC2046 # three numbers, split on purpose
    set -- $(awk '/^Node/ { z = $4 } $1 == "pages" && $2 == "free" { f[z] = $3 }
        $1 == "min" { m[z] = $2 } $1 == "low" { l[z] = $2 }
        END { for (z in f) if (f[z] > best) { best = f[z]; out = f[z] " " m[z] " " l[z] } print out }' /proc/zoneinfo)
    mb=$(( ($1 - $3) * 4 / 1024 + 64 ))
    if [ $(( ($1 - mb * 256 - $2) * 4 / 1024 )) -lt 64 ]; then why="no room between the watermarks ($*)"; break; fi
    out=$(mm-test hog --mb "$mb" --hold-ms 2000 --alarm 100)
    why="$why [attempt $attempt: hog ${mb}M: $out]"
    [ "$(tool_st kswapd-fi injected)" -ge 1 ] && break
done
echo "$old_wsf" >/proc/sys/vm/watermark_scale_factor
if [ "$(tool_st kswapd-fi injected)" -ge 1 ]; then
    pass $P.kswapd-skipped-no-oops
    expect_ge $P.hits "$(tool_st kswapd-fi hits)" 1
else
    skip $P.kswapd-skipped-no-oops "kswapd did not run:$why"
fi
if bad=$(dmesg_bad); then fail $P.no-oops "$(echo "$bad" | head -n 1)"; else pass $P.no-oops; fi
echo 0 >/proc/kswapd-fi/signal
out=$(printf '2\n' | kswapd-fi-main 2>&1)
expect_match $P.main-prompts-armed "$out" 'armed kswapd-fi'
expect_eq $P.main-prompts-knobs "$(knobs kswapd-fi times)" 2
echo 0 >/proc/kswapd-fi/signal
expect_eq $P.signal-0-disarms "$(cat /proc/kswapd-fi/signal),$(tool_st kswapd-fi state)" "0,disarmed"
rmmod kswapd_fi
removed $P kswapd_fi kswapd-fi

# ---------------------------------------------------------------- KVM modules
if [ ! -c /dev/kvm ] || ! command -v test-vmm >/dev/null; then
    skip $C.kvm "no /dev/kvm or no test-vmm"
else
    # resource (access-control-fi): VM ioctls denied.
    P=$C.resource
    # legacy_eperm OUT: the first VM ioctl of `test-vmm vcpu` failed with EPERM.
    legacy_eperm() {
        if [ "$BENCH_ARCH" = x86_64 ]; then
            # the first VM ioctl of test-vmm on x86_64 is KVM_CREATE_IRQCHIP
            [ "$(kv irqchip "$1"),$(kv vcpus_ok "$1")" = "EPERM,2" ]
        else
            [ "$(kv vcpus_ok "$1"),$(kv vcpus_err "$1"),$(kv errno "$1")" = "1,1,EPERM" ]
        fi
    }
    loaded $P resource.ko '[ARM-Res-Fi]' resource time position type style
    refused $P.bad-position /proc/resource/position 3
    refused $P.bad-type /proc/resource/type 4
    refused $P.bad-time /proc/resource/time -2
    setk resource position=1 type=0 time=1
    echo 1 >/proc/resource/signal
    expect_eq $P.knobs-read-back "$(knobs resource position type time signal)" "1,0,1,1"
    out=$(test-vmm vcpu --count 2)
    if legacy_eperm "$out"; then pass $P.signal-ioctl-denied; else fail $P.signal-ioctl-denied "$out"; fi
    expect_eq $P.signal-counters "$(sig_after resource),$(tool_st kvm-ioctl-fi injected)" "0,1"
    expect_ge $P.hits "$(tool_st kvm-ioctl-fi hits)" 1
    # the original armed on any non-zero signal; -1 = unlimited
    setk resource time=-1
    echo 5 >/proc/resource/signal
    out=$(test-vmm vcpu --count 2)
    expect_eq $P.signal-nonzero-unlimited "$(cat /proc/resource/signal),$(kv vcpus_ok "$out")" "1,0"
    echo 0 >/proc/resource/signal
    out=$(test-vmm vcpu --count 2)
    expect_eq $P.signal-0-disarms "$(cat /proc/resource/signal),$(kv vcpus_ok "$out")" "0,2"
    # `resource-main POSITION TYPE COUNT` and the prompts, same order.
    out=$(resource-main 1 0 1 2>&1)
    expect_match $P.main-arg-armed "$out" 'armed resource'
    out=$(test-vmm vcpu --count 2)
    if legacy_eperm "$out"; then pass $P.main-arg-denied; else fail $P.main-arg-denied "$out"; fi
    printf '1\n0\n1\n' | resource-main >/dev/null 2>&1
    expect_eq $P.main-prompts-knobs "$(knobs resource position type time signal)" "1,0,1,1"
    out=$(test-vmm vcpu --count 2)
    if legacy_eperm "$out"; then pass $P.main-prompts-denied; else fail $P.main-prompts-denied "$out"; fi
    printf '3\n0\n1\n' | resource-main >/dev/null 2>&1
    expect_eq $P.main-bad-value "$?,$(knobs resource position),$(sig_after resource)" "2,1,0"
    su nobody -s /bin/sh -c "resource-main 1 0 1" >/dev/null 2>&1
    rc=$?
    if [ "$rc" != 0 ] && [ "$(cat /proc/resource/signal)" = 0 ]; then pass $P.main-non-root; else fail $P.main-non-root "rc $rc"; fi
    rmmod resource
    removed $P resource resource

    # memory (memory-manage-fi): memory regions fail (class 1).
    P=$C.memory
    loaded $P memory.ko '[ARM-Mem-Fi]' memory-manage-fi class time position type style
    refused $P.bad-class /proc/memory-manage-fi/class 3
    refused $P.bad-position /proc/memory-manage-fi/position 9
    setk memory-manage-fi class=1 position=2 type=0 time=1
    echo 1 >/proc/memory-manage-fi/signal
    expect_eq $P.knobs-read-back "$(knobs memory-manage-fi class position type time signal)" "1,2,0,1,1"
    out=$(test-vmm memslot --count 2)
    expect_eq $P.signal-region-fails "$(kv regions_ok "$out"),$(kv regions_err "$out")" "1,1"
    expect_eq $P.signal-counters "$(sig_after memory-manage-fi),$(tool_st memslot-fi injected)" "0,1"
    expect_ge $P.hits "$(tool_st memslot-fi hits)" 1
    out=$(memory-main 1 2 0 1 2>&1)
    expect_match $P.main-arg-armed "$out" 'armed memory'
    out=$(test-vmm memslot --count 2)
    expect_eq $P.main-arg-region-fails "$(kv regions_ok "$out"),$(kv regions_err "$out")" "1,1"
    printf '1\n2\n0\n2\n' | memory-main >/dev/null 2>&1
    expect_eq $P.main-prompts-knobs "$(knobs memory-manage-fi class position type time signal)" "1,2,0,2,1"
    out=$(test-vmm memslot --count 3)
    expect_eq $P.main-prompts-region-fails "$(kv regions_ok "$out"),$(kv regions_err "$out")" "1,2"
    echo 2 >/proc/memory-manage-fi/signal
    expect_eq $P.signal-nonzero-arms "$(cat /proc/memory-manage-fi/signal)" 1
    echo 0 >/proc/memory-manage-fi/signal
    out=$(test-vmm memslot --count 2)
    expect_eq $P.signal-0-disarms "$(cat /proc/memory-manage-fi/signal),$(kv regions_ok "$out")" "0,2"
    rmmod memory
    removed $P memory memory-manage-fi

    # kvm-state-fi: the registers a VMM reads are falsified; the original made
    # every vCPU ioctl fail with EIO.
    P=$C.kvm-state
    base=$(test-vmm run --pages 4 --regs)
    pc=$(kv pc_first "$base")
    loaded $P kvm-state-fi.ko '[ARM-State-Fi]' kvm-state-fi times
    refused $P.bad-times /proc/kvm-state-fi/times -4
    setk kvm-state-fi times=-1
    echo 1 >/proc/kvm-state-fi/signal
    out=$(test-vmm run --pages 4 --regs)
    echo "kvm-state armed (true pc $pc): $out"
    if [ "$(kv pc_first "$out")" != "$pc" ] && [ "$(kv guest "$out"),$(kv unexpected "$out")" = "ok,0" ]; then
        pass $P.signal-pc-falsified-guest-runs
    else
        fail $P.signal-pc-falsified-guest-runs "pc_first $(kv pc_first "$out") (true $pc): $out"
    fi
    out=$(test-vmm vcpu --count 2)
    expect_eq $P.signal-vcpu-ioctls-work "$(kv vcpus_ok "$out"),$(kv vcpus_err "$out")" "2,0"
    expect_ge $P.hits "$(tool_st vcpu-state-fi hits)" 1
    echo 0 >/proc/kvm-state-fi/signal
    out=$(kvm-state-fi-main 1 2>&1)
    expect_match $P.main-arg-armed "$out" 'armed kvm-state-fi'
    out=$(test-vmm run --pages 4 --regs)
    expect_eq $P.main-arg-once "$(tool_st vcpu-state-fi injected),$(sig_after kvm-state-fi),$(kv guest "$out")" "1,0,ok"
    printf '2\n' | kvm-state-fi-main >/dev/null 2>&1
    out=$(test-vmm run --pages 4 --regs)
    expect_eq $P.main-prompts-twice "$(knobs kvm-state-fi times),$(tool_st vcpu-state-fi injected),$(sig_after kvm-state-fi)" "2,2,0"
    rmmod kvm_state_fi
    removed $P kvm_state_fi kvm-state-fi

    # kvm-version-fi: API version 12 read as 0.
    P=$C.kvm-version
    loaded $P kvm-version-fi.ko '[ARM-Ver-Fi]' kvm-version-fi times
    refused $P.bad-times /proc/kvm-version-fi/times x
    setk kvm-version-fi times=1
    echo 1 >/proc/kvm-version-fi/signal
    expect_eq $P.knobs-read-back "$(knobs kvm-version-fi times signal)" "1,1"
    out=$(test-vmm version)
    expect_eq $P.signal-version-0 "$(kv api "$out")" 0
    expect_eq $P.signal-then-12 "$(kv api "$(test-vmm version)"),$(sig_after kvm-version-fi),$(tool_st kvm-version-fi injected)" "12,0,1"
    expect_ge $P.hits "$(tool_st kvm-version-fi hits)" 1
    out=$(kvm-version-fi-main 1 2>&1)
    expect_match $P.main-arg-armed "$out" 'armed kvm-version-fi'
    expect_eq $P.main-arg-version-0 "$(kv api "$(test-vmm version)"),$(kv api "$(test-vmm version)")" "0,12"
    printf '2\n' | kvm-version-fi-main >/dev/null 2>&1
    expect_eq $P.main-prompts-version-0-twice "$(kv api "$(test-vmm version)"),$(kv api "$(test-vmm version)"),$(kv api "$(test-vmm version)")" "0,0,12"
    rmmod kvm_version_fi
    removed $P kvm_version_fi kvm-version-fi

    # vm-migration-fi: the next dirty log loses dirty bits; disarmable.
    P=$C.vm-migration
    loaded $P vm-migration-fi.ko '[ARM-Mig-Fi]' vm-migration-fi
    refused $P.bad-signal /proc/vm-migration-fi/signal 2
    echo 1 >/proc/vm-migration-fi/signal
    expect_eq $P.signal-read-back "$(cat /proc/vm-migration-fi/signal)" 1
    # the original failed the next VM ioctl of any kind: now other ioctls work
    out=$(test-vmm vcpu --count 2)
    expect_eq $P.other-vm-ioctls-work "$(kv vcpus_ok "$out"),$(cat /proc/vm-migration-fi/signal)" "2,1"
    out=$(test-vmm migrate --pages 200 --rounds 4)
    echo "vm-migration armed: $out"
    expect_ge $P.signal-pages-lost "$(kv mismatched "$out")" 1
    expect_eq $P.signal-once "$(kv guest "$out"),$(sig_after vm-migration-fi),$(tool_st dirty-log-fi injected)" "ok,0,1"
    expect_ge $P.hits "$(tool_st dirty-log-fi hits)" 1
    # the original could not be disarmed
    echo 1 >/proc/vm-migration-fi/signal
    echo 0 >/proc/vm-migration-fi/signal
    out=$(test-vmm migrate --pages 64 --rounds 2)
    expect_eq $P.signal-0-disarms "$(cat /proc/vm-migration-fi/signal),$(kv mismatched "$out")" "0,0"
    out=$(vm-migration-fi-main 2>&1)
    expect_match $P.main-armed "$out" 'armed vm-migration-fi'
    out=$(test-vmm migrate --pages 200 --rounds 4)
    expect_ge $P.main-pages-lost "$(kv mismatched "$out")" 1
    vm-migration-fi-main </dev/null >/dev/null 2>&1
    echo 0 >/proc/vm-migration-fi/signal
    expect_eq $P.main-disarmed "$(cat /proc/vm-migration-fi/signal)" 0
    rmmod vm_migration_fi
    removed $P vm_migration_fi vm-migration-fi
fi

# User-space faults (the PC set to 0) are logged as "traps: ..." lines: expected.
if bad=$(dmesg_bad | grep -v '^\[ *[0-9.]*\] traps: [^ ]* general protection fault ip:'); then
    fail $C.dmesg-clean "$(echo "$bad" | head -n 1)"
else
    pass $C.dmesg-clean
fi
exit 0
