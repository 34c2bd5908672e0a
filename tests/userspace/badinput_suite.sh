#!/usr/bin/env bash
# The bad-input table: every binary (and every legacy *-main name) given wrong
# arguments. Runs inside its own pid, network and mount namespaces (run.sh
# starts it with unshare), so the nftables ruleset, qdiscs and mounts it
# compares before and after each case are its own.
#
# For each case: the exit status is the documented one (2 usage, 1 run time,
# 3 needs root, 4 unsupported here, 5 not found; shared/src/error.rs); stderr
# is exactly ONE line, "PROGRAM: message", matching the case's pattern (clap's
# errors are folded into that one line by shared/src/cliparse.rs, for every
# tool); no "panicked" or "RUST_BACKTRACE"; and nothing changed: the case's
# private journal (KVMFI_STATE_DIR) has nothing in force, and the netns's nft
# ruleset, iptables rules, qdiscs, mounts, loaded modules, /dev/kvmfi,
# kvmfi cgroups and tagged helpers are as before.
#
# One RESULT line per binary; every case, with its exit status and message,
# goes to $BADINPUT_TABLE (TSV: binary, case id, env, argv, want, got,
# message) for RELIABILITY.md (tests/userspace/badinput-table.sh prints it as
# Markdown).
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-badinput.XXXXXX)"
export WORK
SUITE=badinput
mkdir -p "$WORK/logs" "$WORK/state" "$WORK/emptybin" "$WORK/legacy"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
TABLE_OUT="${BADINPUT_TABLE:-$CACHE/logs/badinput-table.tsv}"
mkdir -p "$(dirname "$TABLE_OUT")"

cleanup() {
  { jobs -p | xargs -r kill -9; wait; } 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM
ip link set lo up
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

# Kernel tools, and the minimal valid arguments of their `arm` (the generic
# KT cases below are run for each; `-` = no generic arm cases).
declare -A ARM=(
  [vfs-read-fi]="" [vfs-write-fi]="" [mm-fault-fi]="" [kswapd-fi]="" [tlb-flush-fi]=""
  [cpu-reg-main]="--reg pc" [kvm-ioctl-fi]="--cmd KVM_RUN" [kvm-version-fi]="--api-version 11"
  [vcpu-state-fi]="--flip" [dirty-log-fi]="--drop-ratio 0.1" [memslot-fi]="--region"
  [func-fail-fi]="--function security_inode_mkdir"
  [disk-fi]="-" [kfail-fi]="-"
)
KTOOLS=(vfs-read-fi vfs-write-fi func-fail-fi cpu-reg-main mm-fault-fi kswapd-fi tlb-flush-fi
        kvm-ioctl-fi kvm-version-fi vcpu-state-fi dirty-log-fi memslot-fi disk-fi kfail-fi)
# The original programs' names (NAME:TOOL; packaging/legacy-links, generated
# from the tools table): argv[0] dispatch.
mapfile -t LEGACY < <(sed -n 's/^\([^# ][^ ]*\) \([^ ]*\)$/\1:\2/p' "$HERE/../../packaging/legacy-links")
(( ${#LEGACY[@]} > 0 )) || { echo "badinput: no legacy program names in packaging/legacy-links" >&2; exit 2; }

# Generic cases for every kernel tool (@T = the tool, @ARM = its minimal arm
# arguments). Columns: id :: exit status :: env :: argv :: pattern (grep -E).
# env: `-`, or KEY=VALUE words; STDIN=TEXT feeds standard input, AS=nobody
# runs as uid 65534. Placeholders: @DEAD@ a pid that has exited, @LIVE@ a
# running process, @W@ the work directory, @EMPTY@ a directory with no programs.
KT_TABLE='
unknown-subcommand :: 2 :: - :: @T frobnicate :: (unrecognized subcommand|invalid value .frobnicate. for .\[PID\].)
no-arguments :: 2 :: STDIN= :: @T :: (subcommand is required|no value given|end of input)
unknown-option :: 2 :: - :: @T --bogus :: unexpected argument
arm-pid-word :: 2 :: - :: @T arm --tgid abc @ARM :: invalid value .abc.
arm-pid-negative :: 2 :: - :: @T arm --pid -5 @ARM :: unexpected argument .-5.
arm-pid-zero :: 2 :: - :: @T arm --pid 0 @ARM :: invalid value .0.
arm-pid-huge :: 2 :: - :: @T arm --tgid 99999999999 @ARM :: invalid value
arm-pid-dead :: 5 :: - :: @T arm --tgid @DEAD@ @ARM :: no such process
arm-probability-101 :: 2 :: - :: @T arm --tgid @LIVE@ --probability 101 @ARM :: percentage
arm-probability-word :: 2 :: - :: @T arm --tgid @LIVE@ --probability half @ARM :: invalid value .half.
arm-times-negative :: 2 :: - :: @T arm --tgid @LIVE@ --times -2 @ARM :: invalid value .-2.
arm-times-huge :: 2 :: - :: @T arm --tgid @LIVE@ --times 99999999999999999999 @ARM :: too large
arm-interval-zero :: 2 :: - :: @T arm --tgid @LIVE@ --interval 0 @ARM :: invalid value .0.
arm-duration-unit :: 2 :: - :: @T arm --tgid @LIVE@ --duration 3x @ARM :: unknown unit
arm-duration-negative :: 2 :: - :: @T arm --tgid @LIVE@ --duration -1s @ARM :: unexpected argument
arm-duration-huge :: 2 :: - :: @T arm --tgid @LIVE@ --duration 99999999999999999999d @ARM :: (too large|out of range|invalid value)
arm-comm-too-long :: 2 :: - :: @T arm --comm waytoolongcommandname @ARM :: 1 to 15 characters
arm-cgroup-not-cgroup :: 2 :: - :: @T arm --cgroup @W@ @ARM :: not a cgroup v2 directory
arm-no-scope :: 2 :: - :: @T arm @ARM :: no scope given
arm-missing-module :: 4 :: - :: @T arm --tgid @LIVE@ @ARM :: (module .* not found|cannot load modules|not supported)
arm-module-path-missing :: 2 :: - :: @T arm --tgid @LIVE@ --module @W@/none.ko @ARM :: no such file
arm-module-garbage :: 4 :: - :: @T arm --tgid @LIVE@ --module @W@/garbage.ko @ARM :: (cannot load modules|another kernel|not supported)
arm-not-root :: 3 :: AS=nobody :: @T arm --tgid @LIVE@ @ARM :: root
status-extra-arg :: 2 :: - :: @T status extra :: unexpected argument
'

# Cases of one binary each. Same columns, the binary first in argv.
TABLE='
# vfs-read-fi, vfs-write-fi
read-errno-name :: 2 :: - :: vfs-read-fi arm --tgid @LIVE@ --errno EWHAT :: not an errno name
read-errno-negative :: 2 :: - :: vfs-read-fi arm --tgid @LIVE@ --errno -3 :: unexpected argument
read-errno-huge :: 2 :: - :: vfs-read-fi arm --tgid @LIVE@ --errno 99999 :: errno
read-path-missing :: 2 :: - :: vfs-read-fi arm --tgid @LIVE@ --path /nonexistent/kvmfi :: No such file
read-symbol-unknown :: 4 :: - :: vfs-read-fi arm --tgid @LIVE@ --symbol no_such_function_kvmfi :: no function of that name
write-errno-name :: 2 :: - :: vfs-write-fi arm --tgid @LIVE@ --errno ENOTANERRNO :: not an errno name
write-space-unit :: 2 :: - :: vfs-write-fi arm --tgid @LIVE@ --space 12q :: invalid value
# func-fail-fi
func-name-bad :: 2 :: - :: func-fail-fi arm --tgid @LIVE@ --function bad;name :: not a kernel function name
func-name-unknown :: 4 :: - :: func-fail-fi arm --tgid @LIVE@ --function no_such_function_kvmfi :: no function of that name
func-deny-listed :: 2 :: - :: func-fail-fi arm --tgid @LIVE@ --function schedule :: (deny-list|dedicated tool)
func-errno-bad :: 2 :: - :: func-fail-fi arm --tgid @LIVE@ --function vfs_read --errno EBOGUS :: not an errno name
func-two-results :: 2 :: - :: func-fail-fi arm --tgid @LIVE@ --function vfs_read --zero --retval 3 :: cannot be used with
# cpu-reg-main (its legacy form is positional: PID TYPE)
cpureg-register :: 2 :: - :: cpu-reg-main arm --tgid @LIVE@ --reg zz :: not a register
cpureg-bit-huge :: 2 :: - :: cpu-reg-main arm --tgid @LIVE@ --reg pc --flip-bit 64 :: invalid value
cpureg-legacy-type :: 2 :: - :: cpu-reg-main @LIVE@ 999 :: not in 1..=9
cpureg-legacy-pid-word :: 2 :: - :: cpu-reg-main abc 1 :: invalid value .abc.
cpureg-legacy-pid-negative :: 2 :: - :: cpu-reg-main -1 1 :: unexpected argument .-1.
cpureg-legacy-pid-dead :: 5 :: - :: cpu-reg-main @DEAD@ 1 :: no such process
cpureg-prompt-garbage :: 2 :: STDIN=abc :: cpu-reg-main :: not a number
# mm-fault-fi
mm-result :: 2 :: - :: mm-fault-fi arm --tgid @LIVE@ --result boom :: possible values
mm-range :: 2 :: - :: mm-fault-fi arm --tgid @LIVE@ --addr-range zz :: START-END
mm-range-reversed :: 2 :: - :: mm-fault-fi arm --tgid @LIVE@ --addr-range 0x2000-0x1000 :: invalid value
# kswapd-fi
kswapd-ms-huge :: 2 :: - :: kswapd-fi arm --ms 5000 :: not in 1..=1000
kswapd-mode :: 2 :: - :: kswapd-fi arm --mode nap :: possible values
# tlb-flush-fi
tlb-support-extra :: 2 :: - :: tlb-flush-fi support now :: unexpected argument
# kvm-ioctl-fi, kvm-version-fi, vcpu-state-fi, dirty-log-fi, memslot-fi
ioctl-cmd-unknown :: 2 :: - :: kvm-ioctl-fi arm --tgid @LIVE@ --cmd KVM_NOPE :: not a KVM ioctl
ioctl-cmd-missing :: 2 :: - :: kvm-ioctl-fi arm --tgid @LIVE@ :: required arguments
ioctl-errno :: 2 :: - :: kvm-ioctl-fi arm --tgid @LIVE@ --cmd KVM_RUN --errno ENOPE :: not an errno name
version-negative :: 2 :: - :: kvm-version-fi arm --tgid @LIVE@ --api-version -1 :: unexpected argument
version-fail-unknown :: 2 :: - :: kvm-version-fi arm --tgid @LIVE@ --fail KVM_NOPE :: (not a|unknown)
vcpu-reg :: 2 :: - :: vcpu-state-fi arm --tgid @LIVE@ --reg zz --flip :: (not a register|unknown|possible values)
vcpu-two-modes :: 2 :: - :: vcpu-state-fi arm --tgid @LIVE@ --flip --xor 1 :: cannot be used with
dirty-ratio-high :: 2 :: - :: dirty-log-fi arm --tgid @LIVE@ --drop-ratio 1.5 :: at most 1
dirty-ratio-nan :: 2 :: - :: dirty-log-fi arm --tgid @LIVE@ --drop-ratio nan :: at most 1
dirty-ratio-negative :: 2 :: - :: dirty-log-fi arm --tgid @LIVE@ --drop-ratio -0.5 :: unexpected argument
memslot-gfn-reversed :: 2 :: - :: memslot-fi arm --tgid @LIVE@ --gfn 5-2 :: FIRST-LAST
memslot-none :: 2 :: - :: memslot-fi arm --tgid @LIVE@ :: required arguments
# kvmfi-check
check-unknown-tool :: 2 :: - :: kvmfi-check nosuchtool :: unknown tool
check-unknown-option :: 2 :: - :: kvmfi-check --bogus :: unexpected argument
check-cannot-work :: 4 :: - :: kvmfi-check --no-load --no-trigger vfs-read-fi :: cannot work here
# kvmfi-experiment, kvmfi-halt
experiment-no-file :: 2 :: - :: kvmfi-experiment validate @W@/nope.toml :: no such experiment file
experiment-binary-file :: 2 :: - :: kvmfi-experiment run @W@/conf-binary :: not a text file
experiment-directory :: 2 :: - :: kvmfi-experiment plan @W@ :: is a directory
experiment-empty-file :: 2 :: - :: kvmfi-experiment run @W@/conf-empty :: missing field .title.
experiment-subcommand :: 2 :: - :: kvmfi-experiment frobnicate :: unrecognized subcommand
halt-release-reason :: 2 :: - :: kvmfi-halt --release --reason x :: cannot be used with
halt-json-alone :: 2 :: - :: kvmfi-halt --json :: required
halt-timeout-zero :: 2 :: - :: kvmfi-halt --cluster --connect-timeout 0 :: more than 0
# legacy names (argv[0] dispatch)
legacy-read-word :: 2 :: - :: file-read-fi-main abc :: not a number
legacy-read-range :: 2 :: - :: file-read-fi-main 5 :: (out of range|must be)
legacy-read-huge :: 2 :: - :: file-read-fi-main 99999999999999999999 :: not a number
legacy-read-too-many :: 2 :: - :: file-read-fi-main 1 2 3 4 5 6 7 8 9 :: at most
legacy-read-prompt-garbage :: 2 :: STDIN=abc :: file-read-fi-main :: not a number
legacy-read-prompt-eof :: 2 :: STDIN= :: file-read-fi-main :: (no value|end of input)
legacy-write-word :: 2 :: - :: file-write-fi-main x :: not a number
legacy-ptload-negative :: 2 :: - :: pt-load-fi-main -1 :: (out of range|must be|unexpected)
legacy-ptupdate-word :: 2 :: - :: pt-update-fi-main zz :: not a number
legacy-kswapd-huge :: 2 :: - :: kswapd-fi-main 99999999999 :: (out of range|must be|not a number)
legacy-memory-word :: 2 :: - :: memory-main zz :: not a number
legacy-resource-word :: 2 :: - :: resource-main zz :: not a number
legacy-resource-range :: 2 :: - :: resource-main 3 0 1 :: out of range
legacy-memory-too-many :: 2 :: - :: memory-main 1 2 0 1 5 :: at most 4
legacy-kvmstate-word :: 2 :: - :: kvm-state-fi-main zz :: not a number
legacy-version-word :: 2 :: - :: kvm-version-fi-main zz :: not a number
legacy-migration-word :: 2 :: - :: vm-migration-fi-main zz :: takes no values
legacy-read-not-root :: 3 :: AS=nobody :: file-read-fi-main 1 :: root
# hadoop_injector
hi-unknown-command :: 2 :: - :: hadoop_injector frobnicate :: unrecognized subcommand
hi-no-arguments :: 2 :: - :: hadoop_injector :: subcommand is required
hi-component :: 2 :: - :: hadoop_injector crash xx :: possible values
hi-component-missing :: 2 :: - :: hadoop_injector hang :: required arguments
hi-ip-octet :: 2 :: - :: hadoop_injector network 10.0.0.300 :: not an IP address
hi-ip-word :: 2 :: - :: hadoop_injector network host :: not an IP address
hi-ip-unspecified :: 2 :: - :: hadoop_injector network 0.0.0.0 :: 0.0.0.0
hi-safe-mode-word :: 2 :: - :: hadoop_injector hdfs-safe sideways :: possible values
hi-health-word :: 2 :: - :: hadoop_injector yarn-health maybe :: possible values
hi-recover-negative :: 2 :: - :: hadoop_injector recover -1 :: unexpected argument
hi-recover-huge :: 2 :: - :: hadoop_injector recover 99999999999999999999999 :: (too large|invalid value)
hi-recover-zero :: 2 :: - :: hadoop_injector recover 0 :: invalid value .0.
hi-recover-unknown-id :: 5 :: - :: hadoop_injector recover 424242 :: no fault 424242
hi-timeout-negative :: 2 :: - :: hadoop_injector --timeout -5s list :: unexpected argument
hi-timeout-unit :: 2 :: - :: hadoop_injector --timeout 5x list :: unknown unit
hi-main-class-form :: 2 :: - :: hadoop_injector --main-class nn list :: COMPONENT=CLASS
hi-main-class-component :: 2 :: - :: hadoop_injector --main-class zz=a.B list :: unknown component
hi-delay-negative :: 2 :: - :: hadoop_injector delay 10.0.0.1 -5 :: unexpected argument
hi-loss-pct :: 2 :: - :: hadoop_injector loss 10.0.0.1 150 :: percentage
hi-mem-huge :: 2 :: - :: hadoop_injector mem-stress 127.0.0.1 999999999999 :: not in
hi-cpu-negative :: 2 :: - :: hadoop_injector cpu-stress 127.0.0.1 -1 :: unexpected argument
hi-isolate-port :: 2 :: - :: hadoop_injector isolate 10.0.0.1 70000 :: not in 1..=65535
hi-not-running :: 5 :: - :: hadoop_injector hang jhs :: no .jhs. daemon is running
hi-not-root :: 3 :: AS=nobody :: hadoop_injector network 10.1.1.1 :: root
hi-no-firewall-tool :: 4 :: PATH=@EMPTY@ :: hadoop_injector network 10.1.1.1 :: nftables
hi-no-hdfs :: 4 :: PATH=@EMPTY@ HADOOP_HOME= :: hadoop_injector hdfs-safe enter :: hdfs
hi-bad-cluster-conf :: 2 :: - :: hadoop_injector --cluster-conf @W@/conf-badip delay n1 100 :: line 1
hi-unknown-node :: 2 :: - :: hadoop_injector --cluster-conf @W@/conf-good delay nosuchnode 100 :: nosuchnode
# cloudstack_injector
ci-unknown-command :: 2 :: - :: cloudstack_injector frobnicate :: unrecognized subcommand
ci-component :: 2 :: - :: cloudstack_injector crash bogus :: possible values
ci-api-delay-negative :: 2 :: - :: cloudstack_injector api-delay -5 :: unexpected argument
ci-api-delay-huge :: 2 :: - :: cloudstack_injector api-delay 99999999999 :: (not in|invalid value)
ci-storage-missing :: 2 :: - :: cloudstack_injector storage-ro /nonexistent/kvmfi :: No such file
ci-storage-not-mount :: 2 :: - :: cloudstack_injector storage-ro @W@ :: (mount point|export)
ci-agent-ip :: 2 :: - :: cloudstack_injector agent-disconnect 1.2.3 :: not an IP address
ci-network-port :: 2 :: - :: cloudstack_injector network 10.0.0.1 70000 :: not in 1..=65535
ci-sysvm-type :: 2 :: - :: cloudstack_injector sysvm-crash zz :: possible values
ci-db-limit-negative :: 2 :: - :: cloudstack_injector db-limit --max-connections -1 :: unexpected argument
ci-fill-keep-huge :: 2 :: - :: cloudstack_injector storage-fill @W@ --keep-free 99999999999999999999 :: (too large|invalid value)
ci-recover-unknown-id :: 5 :: - :: cloudstack_injector recover 424242 :: no fault 424242
ci-not-running :: 5 :: - :: cloudstack_injector hang mysql :: no .mysql. daemon is running
ci-not-root :: 3 :: AS=nobody :: cloudstack_injector agent-disconnect :: root
ci-no-tc :: 4 :: PATH=@EMPTY@ :: cloudstack_injector api-delay 200 --dev lo :: (tc|iproute2)
ci-no-mysql-client :: 4 :: PATH=@EMPTY@ :: cloudstack_injector db-limit :: (mariadb|mysql)
ci-no-virsh :: 4 :: PATH=@EMPTY@ :: cloudstack_injector sysvm-crash ssvm :: virsh
ci-no-firewall-tool :: 4 :: PATH=@EMPTY@ :: cloudstack_injector vm-migrate-fail :: nftables
# cluster_controller
cc-unknown-command :: 2 :: - :: cluster_controller frob :: unrecognized subcommand
cc-conf-missing :: 2 :: - :: cluster_controller -c /nonexistent/cluster.conf nodes :: cannot read
cc-conf-directory :: 2 :: - :: cluster_controller -c @W@ nodes :: (cannot read|directory)
cc-conf-fields :: 2 :: - :: cluster_controller -c @W@/conf-fields nodes :: line 1: .* field
cc-conf-ip :: 2 :: - :: cluster_controller -c @W@/conf-badip nodes :: line 1: .10.0.0.300. is neither
cc-conf-port :: 2 :: - :: cluster_controller -c @W@/conf-badport nodes :: line 1: ssh port
cc-conf-port-negative :: 2 :: - :: cluster_controller -c @W@/conf-negport nodes :: line 1: ssh port
cc-conf-role :: 2 :: - :: cluster_controller -c @W@/conf-badrole nodes :: unknown role
cc-conf-duplicate :: 2 :: - :: cluster_controller -c @W@/conf-dup nodes :: line 2: node name
cc-conf-empty :: 2 :: - :: cluster_controller -c @W@/conf-empty nodes :: no node
cc-conf-binary :: 2 :: - :: cluster_controller -c @W@/conf-binary nodes :: not UTF-8
cc-conf-env :: 2 :: KVMFI_CLUSTER_CONF=@W@/conf-badrole :: cluster_controller nodes :: unknown role
cc-timeout-unit :: 2 :: - :: cluster_controller --connect-timeout 5x nodes :: unknown unit
cc-parallel-zero :: 2 :: - :: cluster_controller --parallel 0 nodes :: not in 1..=1024
cc-parallel-negative :: 2 :: - :: cluster_controller --parallel -3 nodes :: unexpected argument
cc-target-kind :: 2 :: - :: cluster_controller -c @W@/conf-good inject -t bogus:x hadoop crash dn :: unknown target kind
cc-target-unknown-node :: 2 :: - :: cluster_controller -c @W@/conf-good inject -t nosuchnode hadoop crash dn :: nosuchnode
cc-target-role :: 2 :: - :: cluster_controller -c @W@/conf-good inject -t role:Wizard hadoop crash dn :: (unknown role|Wizard)
cc-scenario :: 2 :: - :: cluster_controller scenario nope :: possible values
cc-scenario-duration :: 2 :: - :: cluster_controller -c @W@/conf-good scenario datanode-crash --duration 5x :: unknown unit
cc-seed-word :: 2 :: - :: cluster_controller --seed abc nodes :: invalid value
'

# --- runner ----------------------------------------------------------------

# snapshot: everything a tool could have changed in this namespace.
snapshot() {
  {
    echo "== nft"; nft list ruleset 2>&1
    echo "== iptables"; iptables-save 2>/dev/null | grep -v '^#' || true
    echo "== tc"; tc qdisc show 2>&1
    echo "== mounts"; findmnt -rn -o TARGET,FSTYPE,OPTIONS
    echo "== modules"; cut -d' ' -f1 /proc/modules 2>/dev/null | sort
    echo "== dev"; ls /dev/kvmfi 2>/dev/null || true
    echo "== cgroups"; find /sys/fs/cgroup -maxdepth 3 -name 'kvmfi*' 2>/dev/null || true
    echo "== helpers"; pgrep -af -- '--kvmfi-tag' || true
  }
}

DEAD=""
LIVE=""
setup() {
  # A pid that has exited (this pid namespace is new: it is not reused soon).
  sleep 0 & DEAD=$!; wait "$DEAD" || true
  sleep 100000 & LIVE=$!
  head -c 4096 /dev/urandom >"$WORK/garbage.ko"
  printf 'n1,10.0.0.1\n' >"$WORK/conf-fields"
  printf 'n1,10.0.0.300,22,DataNode\n' >"$WORK/conf-badip"
  printf 'n1,10.0.0.1,70000,DataNode\n' >"$WORK/conf-badport"
  printf 'n1,10.0.0.1,-5,DataNode\n' >"$WORK/conf-negport"
  printf 'n1,10.0.0.1,22,Wizard\n' >"$WORK/conf-badrole"
  printf 'n1,10.0.0.1,22,DataNode\nn1,10.0.0.2,22,DataNode\n' >"$WORK/conf-dup"
  : >"$WORK/conf-empty"
  printf '\x01\xff\xfe\n' >"$WORK/conf-binary"
  printf 'n1,10.0.0.1,22,NameNode\nn2,10.0.0.2,22,DataNode\n' >"$WORK/conf-good"
  local l
  for l in "${LEGACY[@]}"; do
    [[ -x "$BIN_DIR/${l#*:}" ]] && ln -sf "$BIN_DIR/${l#*:}" "$WORK/legacy/${l%%:*}"
  done
  chmod 755 "$WORK" "$WORK/legacy"
}

subst() {
  local s="$1"
  s="${s//@DEAD@/$DEAD}"; s="${s//@LIVE@/$LIVE}"; s="${s//@W@/$WORK}"; s="${s//@EMPTY@/$WORK/emptybin}"
  printf '%s' "$s"
}

# program NAME: the path of a binary or legacy link; empty when not built.
program() {
  if [[ -x "$BIN_DIR/$1" ]]; then echo "$BIN_DIR/$1"
  elif [[ -e "$WORK/legacy/$1" ]]; then echo "$WORK/legacy/$1"
  fi
}

BEFORE=""
declare -A NPASS=() NFAIL=() FIRSTFAIL=()

# run_case ID WANT ENV ARGV PATTERN: one row of the table.
run_case() {
  local id="$1" want="$2" envs="$3" argv="$4" pat="$5"
  local -a words env=()
  read -ra words <<<"$(subst "$argv")"
  local name="${words[0]}" prog
  prog="$(program "$name")"
  [[ -n "$prog" ]] || { log "skip $id: $name is not built"; return 0; }
  words[0]="$prog"
  local stdin="" as="" w
  if [[ "$envs" != - ]]; then
    for w in $(subst "$envs"); do
      case "$w" in
        STDIN=*) stdin="${w#STDIN=}" ;;
        AS=*) as="${w#AS=}" ;;
        *) env+=("$w") ;;
      esac
    done
  fi
  local state="$WORK/state/$id"
  local -a pre=(env "KVMFI_STATE_DIR=$state" "${env[@]}")
  [[ "$as" == nobody ]] && pre=(setpriv --reuid 65534 --regid 65534 --clear-groups "${pre[@]}")
  local got=0 err problems=()
  err="$(printf '%s' "$stdin" | timeout 30 "${pre[@]}" "${words[@]}" 2>&1 >/dev/null)" || got=$?
  # The exit status.
  [[ "$got" == "$want" ]] || problems+=("exit $got, wanted $want")
  # One line, "PROGRAM: message", naming the problem.
  local lines
  lines=$(printf '%s' "$err" | grep -c '' || true)
  [[ "$lines" == 1 ]] || problems+=("stderr has $lines lines")
  [[ "$err" == "$name: "* ]] || problems+=("stderr does not start with '$name: '")
  grep -qE -- "$pat" <<<"$err" || problems+=("message does not match /$pat/")
  grep -qE 'panicked|RUST_BACKTRACE' <<<"$err" && problems+=("panic")
  # Nothing changed.
  if [[ -e "$state" ]]; then
    local inforce
    inforce="$(KVMFI_STATE_DIR="$state" "$BIN_DIR/hadoop_injector" status --all 2>&1)"
    [[ -z "$inforce" ]] || problems+=("journal has faults in force: $inforce")
  fi
  local after
  after="$(snapshot)"
  if [[ "$after" != "$BEFORE" ]]; then
    problems+=("state changed: $(diff <(echo "$BEFORE") <(echo "$after") | grep '^[<>]' | head -3 | tr '\n' ' ')")
    BEFORE="$after"
  fi
  local env_shown="$envs"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$id" "$env_shown" "$argv" "$want" "$got" \
    "$(printf '%s' "$err" | tr '\t\n' '  ')" >>"$TABLE_OUT"
  local key="$name"
  [[ "$name" == *-main && "$name" != cpu-reg-main ]] && key=legacy-names
  if ((${#problems[@]})); then
    NFAIL[$key]=$((${NFAIL[$key]:-0} + 1))
    echo "FAIL $id: $argv: ${problems[*]} [stderr: $err]" >&2
    [[ -n "${FIRSTFAIL[$key]:-}" ]] || FIRSTFAIL[$key]="$id: ${problems[*]}"
  else
    NPASS[$key]=$((${NPASS[$key]:-0} + 1))
  fi
}

# rows TEXT: the table's rows as "id<TAB>want<TAB>env<TAB>argv<TAB>pattern".
rows() {
  sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' <<<"$1" |
    awk -F ' :: ' 'NF == 5 { print $1 "\t" $2 "\t" $3 "\t" $4 "\t" $5; next } { print "BAD-ROW\t" $0 > "/dev/stderr" }'
}

main() {
  setup
  : >"$TABLE_OUT"
  BEFORE="$(snapshot)"
  local id want envs argv pat t arm
  for t in "${KTOOLS[@]}"; do
    [[ -n "$(program "$t")" ]] || { log "skip $t: not built"; continue; }
    arm="${ARM[$t]-}"
    while IFS=$'\t' read -r id want envs argv pat; do
      if [[ "$argv" == *@ARM* ]]; then
        [[ "$arm" != - ]] || continue
        argv="${argv//@ARM/$arm}"
      fi
      # kswapd-fi acts on kswapd without a scope: no "no scope" refusal.
      [[ "$t:$id" == kswapd-fi:arm-no-scope ]] && continue
      run_case "$t.$id" "$want" "$envs" "${argv//@T/$t}" "$pat"
    done < <(rows "$KT_TABLE")
  done
  while IFS=$'\t' read -r id want envs argv pat; do
    run_case "$id" "$want" "$envs" "$argv" "$pat"
  done < <(rows "$TABLE")
  local k total=0
  for k in $(printf '%s\n' "${!NPASS[@]}" "${!NFAIL[@]}" | sort -u); do
    local p="${NPASS[$k]:-0}" f="${NFAIL[$k]:-0}"
    total=$((total + p + f))
    if ((f == 0)); then
      echo "RESULT PASS $SUITE/$k ($p cases)"
    else
      echo "RESULT FAIL $SUITE/$k $f of $((p + f)) cases failed; first: ${FIRSTFAIL[$k]}"
    fi
  done
  log "$total cases; table in $TABLE_OUT"
}

main "$@"
