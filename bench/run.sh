#!/usr/bin/env bash
# The kvmfi VM bench: boot Debian kernels under QEMU (TCG) with the project's
# modules, binaries and scenario scripts, and report the results.
set -o errexit -o nounset -o pipefail

# shellcheck source=bench/lib-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib-common.sh"
LOG_TAG=run

usage() {
    cat <<'USAGE'
Usage: bench/run.sh [--kernels id,id] [--scenarios DIR|FILE|GLOB] [--bench]
                    [--keep-going|--fail-fast]

For each kernel id (default: x86_64-6.1,x86_64-6.12,arm64-6.1,arm64-6.12):
fetch it (cached), build the modules (bench/build-modules.sh), build the static
binaries for its arch (once per arch), make an initramfs and boot it under
QEMU TCG. The guest runs every scenario script and prints RESULT lines; this
script prints them as
  PASS <id>/<name>      FAIL <id>/<name> <reason>      SKIP <id>/<name> <reason>
and, last, exactly one line "N passed, N failed". A kernel whose console shows
BUG:, Oops, WARNING:, Call Trace or Kernel panic, or that never prints
BENCH-DONE (hang, crash, timeout), adds a failure "<id>/kernel". Exit status
is 1 when anything failed.

Options:
  --kernels LIST     comma separated kernel ids
  --scenarios SPEC   a directory (its *.sh), a file, or a quoted glob
                     (default: bench/scenarios/*.sh)
  --bench            set BENCH_MODE=1 in the guest (scenarios run benchmarks)
  --keep-going       run every kernel even after failures (the default)
  --fail-fast        stop after the first kernel with a failure

Environment:
  KVMFI_CACHE            cache root (default /var/cache/kvmfi): kernels/,
                         build/<id>/ko, userspace/<arch>/bin, run/<id>/, logs/
  KMOD_SRC               module sources (default <repo>/kmod)
  BENCH_PACKAGES         cargo packages for the guest (see build-userspace.sh)
  BENCH_IMAGE_MODULES    extra Debian image modules to ship, space separated
                         names (e.g. "sch_netem nfs"); deps are added. x86_64
                         always ships ccp kvm kvm-amd (loaded by /init).
  BENCH_TIMEOUT          seconds per kernel boot (default 1200)
  BENCH_ROUNDS, BENCH_CALLS  rounds and calls per round of the benchmarks
  BENCH_SCENARIO_TIMEOUT default seconds per scenario in the guest (300);
                         a script can set its own with "# bench-timeout: N"
  BENCH_TIMEOUT_FACTOR   every scenario's timeout is multiplied by it
                         (default 1; make check-debug: 3, the KASAN kernel)
  BENCH_ACCEL            tcg (default) or kvm (opt-in, real VMX/SVM hosts only)
  BENCH_MEM, BENCH_SMP   guest memory (MiB, default 1024) and CPUs (default 2)
  BENCH_TCG_THREAD       x86_64 guests' TCG threading: single (default) or multi
  BENCH_APPEND           extra kernel command line
  BENCH_SKIP_BUILD=1     reuse the modules and binaries already in the cache
  BENCH_LOCK_TIMEOUT     seconds to wait for another bench run using the same
                         KVMFI_CACHE (default 3600; runs are serialized)
USAGE
}

PASSED=0
FAILED=0
SKIPPED=0
declare -A USERSPACE_DONE=()
TIMINGS=()

report() { # KIND id/name [reason]
    local kind=$1 name=$2
    shift 2
    printf '%s %s%s\n' "$kind" "$name" "${*:+ $*}"
    case "$kind" in
        PASS) PASSED=$((PASSED + 1)) ;;
        FAIL) FAILED=$((FAILED + 1)) ;;
        SKIP) SKIPPED=$((SKIPPED + 1)) ;;
    esac
}

# image_module_deps MODDIR NAME: prints NAME's dependencies (load order,
# deepest first), one per line, using modinfo (works for any arch).
# Modules built into the kernel (modules.builtin; the debug kernel builds
# what the scenarios need in) count as present and are not shipped.
declare -A MOD_PATH=()
declare -A MOD_BUILTIN=()
index_image_modules() {
    local moddir=$1 f n
    MOD_PATH=()
    MOD_BUILTIN=()
    while IFS= read -r -d '' f; do
        n=${f##*/}
        n=${n%%.ko*}
        MOD_PATH[${n//-/_}]=$f
    done < <(find "$moddir/kernel" -name '*.ko*' -print0 2>/dev/null)
    if [[ -f "$moddir/modules.builtin" ]]; then
        while IFS= read -r f; do
            n=${f##*/}
            n=${n%%.ko*}
            MOD_BUILTIN[${n//-/_}]=1
        done <"$moddir/modules.builtin"
    fi
}
declare -A DEP_SEEN=()
DEP_ORDER=()
BUILTIN_SEEN=()
dep_walk() {
    local n=${1//-/_} d deps
    [[ -n "${DEP_SEEN[$n]:-}" ]] && return 0
    DEP_SEEN[$n]=1
    if [[ -z "${MOD_PATH[$n]:-}" && -n "${MOD_BUILTIN[$n]:-}" ]]; then
        BUILTIN_SEEN+=("$n")
        return 0
    fi
    [[ -n "${MOD_PATH[$n]:-}" ]] || die "image module $1 not found (nor built in)"
    deps=$(modinfo -F depends "${MOD_PATH[$n]}" 2>/dev/null || true)
    for d in ${deps//,/ }; do dep_walk "$d"; done
    DEP_ORDER+=("$n")
}

# copy_module SRC DST: decompresses .ko.xz/.ko.zst/.ko.gz.
copy_module() {
    case "$1" in
        *.ko.xz) xz -dc "$1" >"$2" ;;
        *.ko.zst) zstd -qdc "$1" >"$2" ;;
        *.ko.gz) gzip -dc "$1" >"$2" ;;
        *) cp "$1" "$2" ;;
    esac
}

# copy_host_tools ROOT ARCH TOOL...: the host's programs (and the shared
# libraries and loader they need) into ROOT/usr/sbin, when ARCH is the
# host's; a scenario checks for them and skips otherwise.
copy_host_tools() {
    local root=$1 arch=$2 t p lib
    shift 2
    (($#)) || return 0
    if [[ "$arch" != "$(uname -m)" ]]; then
        log "host tools ($*) not copied: the guest is $arch, the host $(uname -m)"
        return 0
    fi
    for t in "$@"; do
        p=$(PATH="$PATH:/usr/sbin:/sbin" command -v "$t") || { log "host tool $t not found; not copied"; continue; }
        install -m 0755 "$p" "$root/usr/sbin/$t"
        while read -r lib; do
            [[ -f "$lib" ]] || continue
            mkdir -p "$root$(dirname "$lib")"
            [[ -e "$root$lib" ]] || cp -L "$lib" "$root$lib"
        done < <(ldd "$p" 2>/dev/null | grep -o '/[^ ]*' || true)
    done
}

make_initramfs() { # id scenario-files...
    local id=$1
    shift
    local kdir="${KVMFI_CACHE}/kernels/$id" rdir="${KVMFI_CACHE}/run/$id"
    local KREL MODULES_DIR BUSYBOX
    # shellcheck disable=SC1091
    source "$kdir/kernel.env"
    kid_parse "$id"
    local uarch=$KID_ARCH
    [[ "$uarch" == arm64 ]] && uarch=aarch64
    local root="$rdir/root"
    rm -rf "$root"
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,run,root,kmods,bench,scenarios}
    cp "$BUSYBOX" "$root/bin/busybox"
    ln -s busybox "$root/bin/sh"
    install -m 0755 "$BENCH_DIR/guest/init" "$root/init"
    install -m 0644 "$BENCH_DIR/guest/lib.sh" "$root/bench/lib.sh"
    local f
    for f in "${KVMFI_CACHE}/build/$id/ko/"*.ko; do
        [[ -f "$f" ]] && cp "$f" "$root/kmods/"
    done
    for f in "${KVMFI_CACHE}/userspace/$uarch/bin/"*; do
        [[ -f "$f" ]] && install -m 0755 "$f" "$root/usr/bin/"
    done
    for f in "$@"; do
        install -m 0755 "$f" "$root/scenarios/$(basename "$f")"
    done
    # "# bench-files: examples/x.toml ..." (paths in the repository): copied to /bench/files/.
    local bf
    for f in "$@"; do
        # shellcheck disable=SC2013 # words: one repository path each
        for bf in $(sed -n 's/^# *bench-files: *//p' "$f"); do
            install -D -m 0644 "$BENCH_DIR/../$bf" "$root/bench/files/$(basename "$bf")"
        done
    done
    # Image modules + dependencies.
    local -a want=()
    # (the debug kernel has KVM built in and no ccp)
    if [[ "$KID_ARCH" == x86_64 && "$KID_DEBUG" == 0 ]]; then want+=(ccp kvm kvm-amd); fi
    # shellcheck disable=SC2206 # word splitting intended
    want+=(${BENCH_IMAGE_MODULES:-})
    # A scenario declares what it needs: "# bench-image-modules: sch_netem ..."
    # adds image modules; "# bench-host-tools: tc ..." copies those host
    # programs with their shared libraries (same-arch guests only).
    local sf tools=""
    for sf in "$@"; do
        # shellcheck disable=SC2207 # word splitting intended
        want+=($(sed -n 's/^# *bench-image-modules: *//p' "$sf"))
        tools+=" $(sed -n 's/^# *bench-host-tools: *//p' "$sf")"
    done
    # shellcheck disable=SC2086 # word splitting intended
    copy_host_tools "$root" "$KID_ARCH" $tools
    local imgdir="$root/lib/modules/$KREL/image" m
    mkdir -p "$imgdir"
    : >"$imgdir/image.deps"
    : >"$imgdir/image.builtin"
    BUILTIN_SEEN=()
    if ((${#want[@]})); then
        index_image_modules "$MODULES_DIR"
        # several scenarios may want one module: each once in image.deps
        local -A wanted=()
        for m in "${want[@]}"; do
            [[ -n "${wanted[$m]:-}" ]] && continue
            wanted[$m]=1
            if [[ "$KID_DEBUG" == 1 && -z "${MOD_PATH[${m//-/_}]:-}${MOD_BUILTIN[${m//-/_}]:-}" ]]; then
                log "$id: image module $m is not in the debug kernel; scenarios needing it cannot run"
                continue
            fi
            DEP_SEEN=()
            DEP_ORDER=()
            dep_walk "$m"
            ((${#DEP_ORDER[@]})) || continue # built in
            local -a deps=("${DEP_ORDER[@]:0:${#DEP_ORDER[@]}-1}")
            printf '%s: %s\n' "$m" "${deps[*]}" >>"$imgdir/image.deps"
            [[ "${m//-/_}" != "$m" ]] && printf '%s: %s\n' "${m//-/_}" "${deps[*]}" >>"$imgdir/image.deps"
            local n
            for n in "${DEP_ORDER[@]}"; do
                [[ -f "$imgdir/$n.ko" ]] || copy_module "${MOD_PATH[$n]}" "$imgdir/$n.ko"
            done
        done
        # built-in modules: load_image_module accepts them (both spellings)
        if ((${#BUILTIN_SEEN[@]})); then
            printf '%s\n' "${BUILTIN_SEEN[@]}" "${BUILTIN_SEEN[@]//_/-}" | sort -u >"$imgdir/image.builtin"
        fi
        # names with '-' (kvm-amd) are stored with '_'; keep both spellings loadable
        for m in "$imgdir"/*.ko; do
            [[ -f "$m" ]] || continue
            n=$(basename "$m" .ko)
            [[ "$n" == *_* && ! -e "$imgdir/${n//_/-}.ko" ]] && ln -s "$n.ko" "$imgdir/${n//_/-}.ko"
        done
    fi
    cat >"$root/etc/bench.env" <<ENV
BENCH_KID='$id'
BENCH_ARCH='$KID_ARCH'
BENCH_SERIES='$KID_SERIES'
BENCH_KREL='$KREL'
BENCH_MODE='${BENCH_MODE:-0}'
BENCH_SCENARIO_TIMEOUT='${BENCH_SCENARIO_TIMEOUT:-300}'
BENCH_TIMEOUT_FACTOR='${BENCH_TIMEOUT_FACTOR:-1}'
BENCH_ROUNDS='${BENCH_ROUNDS:-}'
BENCH_CALLS='${BENCH_CALLS:-}'
ENV
    # "# bench-needs: qemu": Debian's QEMU (fetch-qemu.sh) and the guest
    # payloads; QEMU is a cached add-on archive appended to the initramfs (the
    # kernel unpacks concatenated archives), so boots without it stay small.
    local needs_qemu=0
    grep -qx '# *bench-needs:.*\bqemu\b.*' "$@" && needs_qemu=1
    if ((needs_qemu)); then
        build_qemu_payload "$KID_ARCH" "$root/usr/share/kvmfi-qemu"
    fi
    (cd "$root" && find . -print0 | LC_ALL=C sort -z |
        cpio --quiet -o -0 -H newc -R 0:0 | gzip -1 >"$rdir/initrd.cpio.gz")
    if ((needs_qemu)); then
        cat "${KVMFI_CACHE}/qemu/$KID_DEBARCH/qemu.cpio.gz" >>"$rdir/initrd.cpio.gz"
    fi
}

# build_qemu_payload ARCH DIR: the QEMU scenarios' guest (bench/qemu-payload,
# no firmware, no kernel) into DIR: x86_64 a 64 KiB -bios image
# (payload.bin), arm64 an ELF for -kernel (payload.elf).
build_qemu_payload() {
    local arch=$1 dir=$2 src="$BENCH_DIR/qemu-payload" o
    o=$(mktemp -d)
    mkdir -p "$dir"
    if [[ "$arch" == x86_64 ]]; then
        as --32 -o "$o/p.o" "$src/x86_64.S"
        ld -m elf_i386 -Ttext=0 --oformat=binary -o "$dir/payload.bin" "$o/p.o"
    else
        aarch64-linux-gnu-as -o "$o/p.o" "$src/aarch64.S"
        aarch64-linux-gnu-ld -n -Ttext=0x40000000 -e _start -o "$dir/payload.elf" "$o/p.o"
        aarch64-linux-gnu-strip "$dir/payload.elf"
    fi
    rm -rf "$o"
}

rotate_log() {
    local f=$1 i
    for i in 4 3 2 1; do
        [[ -f "$f.$i" ]] && mv -f "$f.$i" "$f.$((i + 1))"
    done
    [[ -f "$f" ]] && mv -f "$f" "$f.1"
    return 0
}

boot() { # id log
    local id=$1 logf=$2
    local kdir="${KVMFI_CACHE}/kernels/$id" rdir="${KVMFI_CACHE}/run/$id"
    local KERNEL_IMAGE
    # shellcheck disable=SC1091
    source "$kdir/kernel.env"
    kid_parse "$id"
    local accel=${BENCH_ACCEL:-tcg} mem=${BENCH_MEM:-1024} smp=${BENCH_SMP:-2}
    local append="panic=-1 oops=panic quiet ${BENCH_APPEND:-}"
    # The debug kernel runs with 4-level paging: under TCG -cpu max (LA57)
    # its KASAN reported a wild-memory-access at boot, in an interrupt taken
    # during identify_cpu, on a valid 5-level direct-map address (no kvmfi
    # code involved): a false report while LA57 looks off.
    if [[ "$KID_DEBUG" == 1 ]]; then append+=" no5lvl"; fi
    # An RCU stall during the initcalls says how slow TCG is on a loaded
    # host, not anything about kvmfi (no module is loaded yet): the debug
    # kernel under KASAN once stalled in __text_poke at boot, and its call
    # trace then failed every dmesg check of the run. Stalls after boot,
    # while the modules run, are still reported.
    append+=" rcupdate.rcu_cpu_stall_suppress_at_boot=1"
    local -a qemu
    if [[ "$KID_ARCH" == x86_64 ]]; then
        # x86_64 guests run single-threaded TCG (2 vCPUs, round-robin): with
        # thread=multi, kernel text patching under load (ftrace enable/disable,
        # KVM's static keys on vCPU create/destroy) twice oopsed 6.12 guests,
        # once with no kvmfi module loaded; BENCH_TCG_THREAD=multi restores it.
        local acc="tcg,thread=${BENCH_TCG_THREAD:-single}" cpu=max
        [[ "$accel" == kvm ]] && acc=kvm cpu=host
        qemu=(qemu-system-x86_64 -accel "$acc" -cpu "$cpu" -m "$mem" -smp "$smp"
            -append "console=ttyS0 $append")
    else
        local acc="tcg,thread=multi" mach="virt,virtualization=on,gic-version=3" cpu="max,pauth-impdef=on"
        [[ "$accel" == kvm ]] && acc=kvm mach="virt,gic-version=3" cpu=host
        qemu=(qemu-system-aarch64 -M "$mach" -cpu "$cpu" -smp "$smp" -m "$mem" -accel "$acc"
            -append "console=ttyAMA0 rdinit=/init $append")
    fi
    qemu+=(-display none -serial stdio -monitor none -no-reboot -nic none
        -kernel "$KERNEL_IMAGE" -initrd "$rdir/initrd.cpio.gz")
    printf '# %s\n' "${qemu[*]}" >"$logf"
    local rc=0
    timeout -k 10 "${BENCH_TIMEOUT:-1200}" "${qemu[@]}" </dev/null >>"$logf" 2>&1 || rc=$?
    return "$rc"
}

parse_log() { # id log qemu-rc
    local id=$1 logf=$2 rc=$3 line kind name reason
    while IFS= read -r line; do
        line=${line%$'\r'}
        [[ "$line" =~ ^RESULT\ (PASS|FAIL|SKIP)\ ([^ ]+)( (.*))?$ ]] || continue
        kind=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]} reason=${BASH_REMATCH[4]:-}
        report "$kind" "$id/$name" "$reason"
    done < <(grep -a '^RESULT ' "$logf" || true)
    local bad
    bad=$(grep -anE 'BUG:|Oops|WARNING:|Call Trace|Kernel panic|kmemleak: [0-9]+ new suspected memory leaks' "$logf" |
        head -n 3 | tr -d '\r' || true)
    if [[ -n "$bad" ]]; then
        report FAIL "$id/kernel" "console shows a kernel error: $(head -n 1 <<<"$bad") (log: $logf)"
    fi
    if ! grep -aq '^BENCH-DONE' "$logf"; then
        local why="no BENCH-DONE"
        [[ "$rc" == 124 || "$rc" == 137 ]] && why="timed out after ${BENCH_TIMEOUT:-1200}s, no BENCH-DONE"
        report FAIL "$id/kernel" "$why (qemu rc=$rc, last line: $(grep -av '^$' "$logf" | tail -n 1 | tr -d '\r' | cut -c1-120)) (log: $logf)"
    fi
}

run_kernel() { # id scenario-files...
    local id=$1
    shift
    kid_parse "$id"
    local uarch=$KID_ARCH t logf="${KVMFI_CACHE}/logs/$id.log"
    [[ "$uarch" == arm64 ]] && uarch=aarch64
    local tf tm tu=0 ti tb
    t=$(now_s)
    if ! "$BENCH_DIR/fetch-kernels.sh" "$id"; then
        report FAIL "$id/setup" "fetch-kernels.sh failed"
        return 0
    fi
    tf=$(elapsed "$t")
    t=$(now_s)
    if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]] && ! "$BENCH_DIR/build-modules.sh" "$id"; then
        report FAIL "$id/setup" "build-modules.sh failed"
        return 0
    fi
    tm=$(elapsed "$t")
    if [[ "${BENCH_SKIP_BUILD:-0}" != 1 && -z "${USERSPACE_DONE[$uarch]:-}" ]]; then
        t=$(now_s)
        if ! "$BENCH_DIR/build-userspace.sh" "$uarch"; then
            report FAIL "$id/setup" "build-userspace.sh $uarch failed"
            return 0
        fi
        USERSPACE_DONE[$uarch]=1
        tu=$(elapsed "$t")
    fi
    if grep -qx '# *bench-needs:.*\bqemu\b.*' "$@" && ! "$BENCH_DIR/fetch-qemu.sh" "$KID_DEBARCH"; then
        report FAIL "$id/setup" "fetch-qemu.sh $KID_DEBARCH failed"
        return 0
    fi
    t=$(now_s)
    make_initramfs "$id" "$@"
    ti=$(elapsed "$t")
    mkdir -p "${KVMFI_CACHE}/logs"
    rotate_log "$logf"
    log "$id: booting ($(du -h "${KVMFI_CACHE}/run/$id/initrd.cpio.gz" | cut -f1) initramfs), console log $logf"
    t=$(now_s)
    local rc=0
    boot "$id" "$logf" || rc=$?
    tb=$(elapsed "$t")
    parse_log "$id" "$logf" "$rc"
    TIMINGS+=("$id: fetch ${tf}s, modules ${tm}s, userspace ${tu}s, initramfs ${ti}s, boot+scenarios ${tb}s")
}

main() {
    local kernels="" spec="" id fail_fast=0
    while (($#)); do
        case "$1" in
            -h | --help) usage; return 0 ;;
            --kernels) kernels=${2:?--kernels needs a value}; shift ;;
            --kernels=*) kernels=${1#*=} ;;
            --scenarios) spec=${2:?--scenarios needs a value}; shift ;;
            --scenarios=*) spec=${1#*=} ;;
            --bench) export BENCH_MODE=1 ;;
            --keep-going) fail_fast=0 ;;
            --fail-fast) fail_fast=1 ;;
            *) usage >&2; return 2 ;;
        esac
        shift
    done
    local -a ids=()
    if [[ -n "$kernels" ]]; then
        IFS=, read -r -a ids <<<"$kernels"
    else
        ids=("${DEFAULT_KERNEL_IDS[@]}")
    fi
    for id in "${ids[@]}"; do kid_parse "$id"; done
    local -a scen=()
    [[ -n "$spec" ]] || spec="$BENCH_DIR/scenarios"
    if [[ -d "$spec" ]]; then
        for f in "$spec"/*.sh; do [[ -f "$f" ]] && scen+=("$f"); done
    else
        # shellcheck disable=SC2206 # glob expansion intended
        local -a g=($spec)
        for f in "${g[@]}"; do [[ -f "$f" ]] && scen+=("$f"); done
    fi
    ((${#scen[@]})) || die "no scenario scripts match '$spec'"
    local names=()
    for f in "${scen[@]}"; do names+=("$(basename "$f")"); done
    [[ "$(printf '%s\n' "${names[@]}" | sort | uniq -d)" == "" ]] || die "duplicate scenario file names"
    command -v "qemu-system-x86_64" >/dev/null || die "qemu missing: run bench/setup-host.sh"
    bench_lock
    log "kernels: ${ids[*]}; scenarios: ${names[*]}"
    local t0
    t0=$(now_s)
    for id in "${ids[@]}"; do
        run_kernel "$id" "${scen[@]}"
        if ((fail_fast && FAILED)); then
            log "--fail-fast: stopping after $id"
            break
        fi
    done
    local l
    for l in "${TIMINGS[@]}"; do log "timing $l"; done
    log "total $(elapsed "$t0")s"
    ((SKIPPED == 0)) || echo "$SKIPPED skipped"
    echo "$PASSED passed, $FAILED failed"
    ((FAILED == 0))
}

main "$@"
