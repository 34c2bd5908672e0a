# shellcheck shell=sh
# Helpers for kvmfi bench scenario scripts (busybox sh). Source it:
#   . /bench/lib.sh
# Result protocol: one line per check on the console, exactly
#   RESULT PASS <name>
#   RESULT FAIL <name> <reason>
#   RESULT SKIP <name> <reason>
# <name> has no spaces ([A-Za-z0-9._-]); the host prefixes it with the kernel id.
# A scenario must print at least one RESULT line and exit 0; a non-zero exit,
# a timeout or no RESULT line at all is reported as a failure by /init.

: "${BENCH_RESULTS:=/run/bench-results}"
KMODS=/kmods
IMAGE_MODULES=/lib/modules/$(uname -r)/image

_result() {
    # $1 = PASS|FAIL|SKIP, $2 = name, rest = reason (one line)
    _r=$1 _n=$(echo "$2" | tr -c 'A-Za-z0-9._/\n-' '_')
    shift 2
    _why=$(echo "$*" | tr '\n' ' ' | sed 's/ *$//')
    if [ -n "$_why" ]; then
        echo "RESULT $_r $_n $_why"
    else
        echo "RESULT $_r $_n"
    fi
    echo "$_r $_n" >>"$BENCH_RESULTS"
}

# pass NAME
pass() { _result PASS "$1"; }
# fail NAME REASON...
fail() { _n=$1; shift; _result FAIL "$_n" "${*:-failed}"; }
# skip NAME REASON...
skip() { _n=$1; shift; _result SKIP "$_n" "${*:-skipped}"; }

# expect_eq NAME GOT WANT: pass when equal, else fail with both values.
expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "got '$2' want '$3'"; fi
}

# expect_match NAME STRING PATTERN (grep -E pattern)
expect_match() {
    if printf '%s\n' "$2" | grep -Eq -- "$3"; then pass "$1"; else fail "$1" "'$2' does not match /$3/"; fi
}

# expect_ge NAME GOT MIN (integers)
expect_ge() {
    if [ "$2" -ge "$3" ] 2>/dev/null; then pass "$1"; else fail "$1" "got '$2' want >= $3"; fi
}

# kv KEY LINE: value of KEY in a "k=v k=v" line (fi-probe output).
kv() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

# dmesg snapshot: dmesg_mark, then dmesg_since prints the lines logged after it.
dmesg_mark() { _DMESG_MARK=$(dmesg | wc -l); }
dmesg_since() { dmesg | tail -n +"$((${_DMESG_MARK:-0} + 1))"; }
# dmesg_snapshot FILE: save the whole log (for diffing or attaching).
dmesg_snapshot() { dmesg >"${1:-/tmp/dmesg.$$}"; }
# dmesg_bad: prints kernel-log lines that mean a kernel bug, returns 0 if any.
# (KASAN "BUG: KASAN:", lockdep "WARNING: possible circular locking ...",
# DEBUG_ATOMIC_SLEEP "BUG: sleeping function ...", kmemleak scan results)
dmesg_bad() {
    # "traps: PROG[PID] general protection fault ip:..." is a user program's
    # crash (the effect cpu-reg-main injects), not a kernel bug.
    dmesg_since | grep -v 'traps: .*\[[0-9]*\] general protection fault ip:' |
        grep -E 'BUG:|Oops|WARNING:|Call Trace|Kernel panic|general protection|kmemleak: [0-9]+ new suspected memory leaks'
}

# dmesg_clean_but_oom P: the P.dmesg-clean result of a scenario whose
# memory-cgroup OOM kills are expected. Each logs a report with a stack trace
# ("invoked oom-killer", "Call Trace:"), which the host-side console check
# would take for a kernel error. When the whole log is otherwise clean (no
# BUG/Oops/WARNING/panic, and no call trace but those of OOM reports), the
# reports are summarised and the log cleared, so nothing the host would flag
# is hidden. A user program's "traps: PROG[PID] general protection fault
# ip:..." (the effect 40-cpu-reg injects) is no kernel error; the timestamp
# is optional (the debug kernel has no PRINTK_TIME).
dmesg_clean_but_oom() {
    _bad=$(dmesg | grep -E 'BUG:|Oops|WARNING:|Kernel panic|general protection' |
        grep -Ev '^(\[ *[0-9.]*\] )?traps: [^ ]* general protection fault ip:')
    _traces=$(dmesg | grep -c 'Call Trace')
    _ooms=$(dmesg | grep -c 'invoked oom-killer')
    if [ -n "$_bad" ]; then
        fail "$1.dmesg-clean" "$(echo "$_bad" | head -n 1)"
    elif [ "$_traces" -gt "$_ooms" ]; then
        fail "$1.dmesg-clean" "a call trace that is not an OOM report: $(dmesg | grep -B3 'Call Trace' | head -n 4 | tr '\n' ' ')"
    else
        if [ "$_ooms" -gt 0 ]; then
            echo "$1: $_ooms expected OOM report(s): $(dmesg | grep 'Killed process' | head -n 1)"
            dmesg -c >/dev/null
        fi
        pass "$1.dmesg-clean"
    fi
}

# Modules: the project's modules are flat in /kmods; image modules (with deps
# resolved on the host) in /lib/modules/<release>/image.
mod_name() { basename "$1" | sed -e 's/\.ko$//' | tr '-' '_'; }
mod_loaded() { [ -d "/sys/module/$(mod_name "$1")" ]; }
has_kmod() { [ -f "$KMODS/$1.ko" ]; }

# kmod_load NAME [PARAMS...]: insmod /kmods/NAME.ko
kmod_load() {
    _m=$1; shift
    [ -f "$KMODS/$_m.ko" ] || { echo "kmod_load: no $KMODS/$_m.ko" >&2; return 1; }
    insmod "$KMODS/$_m.ko" "$@"
}
# kmod_unload NAME
kmod_unload() { rmmod "$(mod_name "$1")"; }

# load_image_module NAME: insmod an image module and its dependencies.
# A module built into the kernel (image.builtin) is already there.
load_image_module() {
    grep -qx "$1" "$IMAGE_MODULES/image.builtin" 2>/dev/null && return 0
    _line=$(grep -m 1 "^$1:" "$IMAGE_MODULES/image.deps" 2>/dev/null) ||
        { echo "load_image_module: $1 not in the initramfs (add it to BENCH_IMAGE_MODULES)" >&2; return 1; }
    for _d in ${_line#*:} "$1"; do
        mod_loaded "$_d" && continue
        insmod "$IMAGE_MODULES/$_d.ko" || return 1
    done
}

# kallsyms_has SYMBOL: /proc/kallsyms is read once (slow under TCG).
kallsyms_has() {
    [ -s /tmp/.kallsyms ] || awk '{ print $3 }' /proc/kallsyms >/tmp/.kallsyms
    grep -qx "$1" /tmp/.kallsyms
}

# wait_stopped PID [TRIES]: wait until the process is stopped (State: T).
wait_stopped() {
    _i=0
    while [ "$_i" -lt "${2:-100}" ]; do
        grep -q '^State:[[:space:]]*T' "/proc/$1/status" 2>/dev/null && return 0
        sleep 0.1
        _i=$((_i + 1))
    done
    return 1
}

# trace_kprobe_hits NAME: hit count of a tracefs kprobe event (kprobe_profile).
trace_kprobe_hits() {
    awk -v n="$1" '$1 == n { print $2 }' /sys/kernel/tracing/kprobe_profile
}

# st KEY: one value of `$T status` (the scenario's tool in $T).
st() { $T status | awk -v k="$1" '$1 == k { print $2 }'; }

# require_test_vmm P: ends the scenario (skipping P) without /dev/kvm or test-vmm.
require_test_vmm() {
    if [ ! -c /dev/kvm ] || ! command -v test-vmm >/dev/null; then
        skip "$1" "no /dev/kvm or no test-vmm"
        exit 0
    fi
}

# run_armed PROG ARM_ARGS ARGS...: starts PROG ARGS stopped, arms $T for its
# pid (--tgid) with ARM_ARGS, lets it run and prints its output; the arm's
# exit status is left in /tmp/arm.rc, its output in /tmp/arm.out, PROG's pid
# in /tmp/armed.pid (the function usually runs in a command substitution).
run_armed() {
    _prog=$1 _arm=$2; shift 2
    sh -c 'kill -STOP $$; exec "$@"' "$_prog" "$_prog" "$@" >/tmp/armed.out &
    _pid=$!
    echo $_pid >/tmp/armed.pid
    wait_stopped $_pid || { echo "$_prog never stopped"; return 1; }
    # shellcheck disable=SC2086 # word splitting of the arm options intended
    $T arm --tgid $_pid $_arm >/tmp/arm.out 2>&1
    echo $? >/tmp/arm.rc
    [ "$(cat /tmp/arm.rc)" = 0 ] || echo "arm failed: $(cat /tmp/arm.out)" >&2
    kill -CONT $_pid
    wait $_pid
    cat /tmp/armed.out
}

# vmm ARM_ARGS VMM_ARGS...: run_armed for the test VMM.
vmm() { run_armed test-vmm "$@"; }

# expect_exp_events NAME ID N PATTERN: experiment ID (as printed by `$T arm`)
# has exactly N inject events in the ring of the tool $FI (default $T), all
# matching PATTERN (grep -E, on `events` lines: "... exp=ID inject pid=P
# tgid=G comm=C what=W value=V detail=D0,D1"): every injection is observable.
# The events are left in /tmp/events.out (see events_sum).
expect_exp_events() {
    expect_eq "$1" "$(exp_events "$2" "$4")" "$3,0"
}
# exp_events ID PATTERN: prints "N,M": experiment ID has N inject events, M of
# them not matching PATTERN (the first such is shown on stderr).
exp_events() {
    ${FI:-$T} events --experiment "$1" | grep ' inject ' >/tmp/events.out
    _odd=$(grep -Ev -- "$2" /tmp/events.out | head -n 1)
    [ -z "$_odd" ] || echo "an event not matching /$2/: $_odd" >&2
    echo "$(wc -l </tmp/events.out | tr -d ' '),$(grep -Evc -- "$2" /tmp/events.out)"
}

# expect_events NAME N [PATTERN]: expect_exp_events for the experiment armed
# last by run_armed (its id in /tmp/arm.out); PATTERN defaults to the test
# VMM's comm.
expect_events() { expect_exp_events "$1" "$(tail -n 1 /tmp/arm.out)" "$2" "${3:-comm=test-vmm}"; }

# armed_event WHAT VALUE [COMM]: the event pattern (for expect_events) of an
# injection of WHAT with VALUE into the program run_armed started last
# (COMM defaults to the test VMM's). Events keep the first 15 characters of
# WHAT (KVMFI_WHAT_LEN).
armed_event() { echo " tgid=$(cat /tmp/armed.pid) comm=${3:-test-vmm} what=$(printf '%.15s' "$1") value=$2 "; }

# in_ring N: how many of N events of one experiment the ring still holds (it
# keeps the newest KVMFI_EVENT_RING = 1024; `events` says how many were lost).
in_ring() { if [ "$1" -gt 1024 ]; then echo 1024; else echo "$1"; fi; }

# events_sum: the sum of the values of the events in /tmp/events.out
# (pages dropped, ...).
events_sum() { sed -n 's/.* value=\(-\{0,1\}[0-9]*\) .*/\1/p' /tmp/events.out | awk '{ s += $1 } END { print s + 0 }'; }

# QEMU (scenarios with "# bench-needs: qemu"): Debian's QEMU runs a tiny
# payload (bench/qemu-payload: a marker on the serial port, then a pass
# counter written into 112 pages, forever) with -accel kvm: nested SVM on
# x86_64, EL2/VHE on arm64. Instance NAME has its QMP socket in /tmp/NAME.qmp,
# its serial output in /tmp/NAME.serial, its stderr in /tmp/NAME.err.
QEMU_PAYLOAD=/usr/share/kvmfi-qemu
# QEMU_PAGES: the guest address of the payload's first page (for scenarios).
# shellcheck disable=SC2034
# QEMU_COMM: QEMU's comm (15 characters) for event patterns.
if [ "$BENCH_ARCH" = arm64 ]; then
    QEMU_BIN=qemu-system-aarch64 QEMU_COMM=qemu-system-aar QEMU_PROGRESS=0x40000f00 QEMU_PAGES=0x40100000
else
    QEMU_BIN=qemu-system-x86_64 QEMU_COMM=qemu-system-x86 QEMU_PROGRESS=0x500 QEMU_PAGES=0x10000
fi

# require_qemu P: ends the scenario (skipping P) without /dev/kvm or QEMU.
require_qemu() {
    if [ ! -c /dev/kvm ] || ! command -v "$QEMU_BIN" >/dev/null || ! command -v qmp >/dev/null; then
        skip "$1" "no /dev/kvm, $QEMU_BIN or qmp in this guest"
        exit 0
    fi
}

# qemu_exec [--stopped] NAME [QEMU-OPTIONS...]: exec QEMU instance NAME
# (${QEMU_MEM:-16} MiB, 1 vCPU, -accel ${QEMU_ACCEL:-kvm}) running the payload. --stopped: the process stops itself
# first and, once continued, execs QEMU without creating any other process
# or thread (builtins only), so a fault armed for its pid meanwhile (say
# cpu-reg-main's, on the next new task) meets QEMU's first.
qemu_exec() {
    _stop=0
    [ "$1" = --stopped ] && _stop=1 && shift
    _qn=$1; shift
    rm -f "/tmp/$_qn.qmp" "/tmp/$_qn.serial"
    if [ "$_stop" = 1 ]; then
        read -r _self _ </proc/self/stat
        kill -STOP "$_self"
    fi
    if [ "$BENCH_ARCH" = arm64 ]; then
        set -- -M virt,gic-version=3 -cpu host -kernel "$QEMU_PAYLOAD/payload.elf" "$@"
    else
        # (no kvmvapic.bin option ROM: the payload needs no TPR patching)
        set -- -M pc -bios "$QEMU_PAYLOAD/payload.bin" -global kvm-apic.vapic=off "$@"
    fi
    exec "$QEMU_BIN" -accel "${QEMU_ACCEL:-kvm}" -m "${QEMU_MEM:-16}" -smp 1 -nodefaults -no-user-config -display none \
        -serial "file:/tmp/$_qn.serial" -qmp "unix:/tmp/$_qn.qmp,server=on,wait=off" "$@" 2>"/tmp/$_qn.err"
}

# qemu_start NAME [QEMU-OPTIONS...]: QEMU in the background; its pid in QPID.
qemu_start() { qemu_exec "$@" & QPID=$!; }

# qemu_start_stopped NAME [QEMU-OPTIONS...]: like qemu_start, but the process
# is stopped before it execs QEMU (arm a fault for $QPID, then kill -CONT).
qemu_start_stopped() {
    qemu_exec --stopped "$@" &
    QPID=$!
    wait_stopped $QPID
}

# qemu_wait_up NAME [paused]: waits (up to 60 s) until QEMU's QMP socket
# exists and the payload printed its marker (with "paused", QEMU started with
# -S: until QMP answers, i.e. QEMU's main loop runs; the socket exists
# earlier, before the machine's reset has loaded arm64's payload into guest
# RAM); fails when QEMU ($QPID) is gone first (its stderr is then in
# /tmp/NAME.err).
qemu_wait_up() {
    _i=0
    while [ "$_i" -lt 300 ]; do
        if [ -S "/tmp/$1.qmp" ]; then
            [ "${2:-}" = paused ] && qmp "/tmp/$1.qmp" '{"execute":"query-status"}' >/dev/null 2>&1 && return 0
            grep -q KVMFI-PAYLOAD-UP "/tmp/$1.serial" 2>/dev/null && return 0
        fi
        grep -q '^State:[[:space:]]*[TtZX]' "/proc/$QPID/status" 2>/dev/null && return 1
        [ -d "/proc/$QPID" ] || return 1
        sleep 0.2
        _i=$((_i + 1))
    done
    return 1
}

# qemu_passes NAME: the payload's finished passes (read over QMP).
qemu_passes() {
    _x=$(qmp "/tmp/$1.qmp" "hmp:xp /1wx $QEMU_PROGRESS") || return 1
    printf '%d\n' "$(echo "$_x" | sed -n 's/.*: *\(0x[0-9a-f]*\).*/\1/p')"
}

# qemu_progresses NAME [SECS]: true when the payload's pass count grows
# within SECS (default 2); leaves "before,after" in QEMU_PROGRESS_SEEN.
qemu_progresses() {
    _a=$(qemu_passes "$1") || return 1
    sleep "${2:-2}"
    _b=$(qemu_passes "$1") || return 1
    # shellcheck disable=SC2034 # read by the scenarios
    QEMU_PROGRESS_SEEN="$_a,$_b"
    [ "$_b" -gt "$_a" ]
}

# qemu_ram_range PID: the host address range (START-END, hex) of QEMU's
# guest-RAM mapping, from /proc/PID/maps: the memfd of a QEMU started with
# QEMU_MEMFD_RAM (arm64's virt puts its 64 MiB flash images next to the RAM,
# and anonymous neighbours merge into one mapping), else the anonymous
# mapping of exactly 16 MiB.
# shellcheck disable=SC2034 # used by the scenarios
QEMU_MEMFD_RAM="-object memory-backend-memfd,id=ram0,size=16M -machine memory-backend=ram0"
qemu_ram_range() {
    _m=$(awk '$2 ~ /^rw/ && $6 ~ /^\/memfd:memory-backend-memfd/ { split($1, a, "-"); print "0x" a[1] "-0x" a[2]; exit }' "/proc/$1/maps")
    [ -n "$_m" ] && { echo "$_m"; return 0; }
    awk '$2 ~ /^rw/ && $6 == "" {
        split($1, a, "-"); if (length(a[1]) <= 16 && a[2] != "") print "0x" a[1] "-0x" a[2] }' "/proc/$1/maps" |
        while IFS=- read -r s e; do
            [ $((e - s)) -eq $((16 << 20)) ] && echo "$s-$e"
        done | head -n 1
}

# qemu_migrate_compare TAG [ARM-ARGS]: a live migration between two QEMUs
# (the destination with -incoming, QEMU_ACCEL for both), armed with
# `$T arm --tgid SOURCE ARM-ARGS` when ARM-ARGS are given (`$T off` once it
# ended), then guest RAM of the paused source and of the destination
# compared page by page (pmemsave). Result $P.TAG-completed. Sets DIFF (pages
# differing, their indexes from RAM start in /tmp/TAG.pages), MIG_S
# (seconds), PASSES (payload passes when the source stopped).
if [ "$BENCH_ARCH" = arm64 ]; then QEMU_RAM_BASE=0x40000000; else QEMU_RAM_BASE=0; fi
# qemu_migrate NAME URI: migrates QEMU instance NAME to URI and waits for the
# end (up to 120 s); prints the final status. A migrate command answered with
# an error (QEMU not ready for it yet) is sent again, up to 10 times a second
# apart; the last error goes to stderr (the console log).
qemu_migrate() {
    _i=0
    while ! _r=$(qmp "/tmp/$1.qmp" "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"$2\"}}" 2>&1); do
        _i=$((_i + 1))
        if [ "$_i" -ge 10 ]; then
            echo "qemu_migrate $1: migrate refused: $_r" >&2
            echo refused
            return 0
        fi
        sleep 1
    done
    [ "$_i" -eq 0 ] || echo "qemu_migrate $1: migrate accepted after $_i retries" >&2
    _i=0 _st=""
    while [ "$_i" -lt 600 ]; do
        _st=$(qmp "/tmp/$1.qmp" '{"execute":"query-migrate"}' | sed -n 's/.*"status": "\([a-z-]*\)".*/\1/p')
        case "$_st" in completed | failed | cancelled) break ;; esac
        sleep 0.2
        _i=$((_i + 1))
    done
    [ -n "$_st" ] || echo "qemu_migrate $1: no status after 120 s: $(qmp "/tmp/$1.qmp" '{"execute":"query-migrate"}' 2>&1)" >&2
    echo "$_st"
}

# shellcheck disable=SC2034 # DIFF, MIG_S and PASSES are read by the scenarios
qemu_migrate_compare() {
    _tag=$1 _arm=${2:-}
    qemu_start "$_tag-dst" -S -incoming "unix:/tmp/$_tag.mig"
    _dst=$QPID
    qemu_start "$_tag-src"
    _src=$QPID
    DIFF=-1 MIG_S=-1 PASSES=-1
    if ! qemu_wait_up "$_tag-src" || ! qemu_wait_up "$_tag-dst" paused; then
        fail "$P.$_tag-up" "QEMU did not start: $(head -c 200 "/tmp/$_tag-src.err") $(head -c 200 "/tmp/$_tag-dst.err")"
        kill -9 "$_src" "$_dst" 2>/dev/null
        return 1
    fi
    # shellcheck disable=SC2086 # word splitting of the arm options intended
    [ -z "$_arm" ] || $T arm --tgid "$_src" $_arm >/tmp/arm.out
    sleep 1
    _t0=$(date +%s)
    _st=$(qemu_migrate "$_tag-src" "unix:/tmp/$_tag.mig")
    MIG_S=$(($(date +%s) - _t0))
    qmp "/tmp/$_tag-src.qmp" '{"execute":"query-migrate"}' >"/tmp/$_tag.migrate"
    expect_eq "$P.$_tag-completed" "$_st" completed
    [ -z "$_arm" ] || $T off
    PASSES=$(qemu_passes "$_tag-src")
    for _s in src dst; do
        qmp "/tmp/$_tag-$_s.qmp" "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":$((QEMU_RAM_BASE)),\"size\":$((${QEMU_MEM:-16} << 20)),\"filename\":\"/tmp/$_tag-$_s.mem\"}}" >/dev/null
    done
    DIFF=$(cmp -l "/tmp/$_tag-src.mem" "/tmp/$_tag-dst.mem" | awk '{ print int(($1 - 1) / 4096) }' | uniq | tee "/tmp/$_tag.pages" | wc -l)
    rm -f "/tmp/$_tag-src.mem" "/tmp/$_tag-dst.mem"
    kill -9 "$_src" "$_dst" 2>/dev/null
    wait "$_src" "$_dst" 2>/dev/null
    return 0
}

# qemu_stop: kill -9 QEMU ($QPID) and reap it.
qemu_stop() { kill -9 "$QPID" 2>/dev/null; wait "$QPID" 2>/dev/null; return 0; }

# Support matrix (bench/matrix.sh builds it from these console lines):
# matrix_row TOOL PROOF [PARAM...]: TOOL's module is loaded and the RESULT
# named PROOF (printed before) proves TOOL's effect on this kernel. Records
# the functions probed (the module's PARAM parameters, default `symbol`)
# and the hits TOOL's status counts so far (TOOL may be a command with a
# subcommand, "tlb-flush-fi kvm": its row is then tool=tlb-flush-fi-kvm):
#   BENCH-MATRIX tool=TOOL hook=F[+F2] hits=N proof=PROOF scenario=SCRIPT
matrix_row() {
    _mt=$1 _mp=$2
    shift 2
    [ $# -gt 0 ] || set -- symbol
    _mm=$($_mt status | awk '$1 == "module" { print $2 }' | tr - _)
    _mh=""
    for _pp in "$@"; do
        _ms=$(cat "/sys/module/$_mm/parameters/$_pp" 2>/dev/null)
        case "+$_mh+" in *"+$_ms+"*) ;; *) [ -n "$_ms" ] && _mh="${_mh:+$_mh+}$_ms" ;; esac
    done
    echo "BENCH-MATRIX tool=$(echo "$_mt" | tr ' ' -) hook=${_mh:--} hits=$($_mt status | awk '$1 == "hits" { print $2 }') proof=$_mp scenario=${0##*/}"
}
# matrix_refused TOOL PROOF: this kernel has no point to hook for TOOL and
# the RESULT PROOF shows TOOL refusing with its reason.
matrix_refused() { echo "BENCH-MATRIX tool=$1 hook=- hits=0 proof=$2 scenario=${0##*/} refused"; }
