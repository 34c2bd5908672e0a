#!/usr/bin/env bash
# Cluster control benchmark (issue 6): wall time to inject and to recover a
# partition on 1, 8 and 32 nodes, cluster_controller (one ssh2 connection
# per node, all nodes at once) side by side with a sequential loop of `ssh`
# commands doing the same work; client CPU seconds per node; SSH
# connections per node per run (from the nodes' sshd logs).
#
# Each node is a network namespace on a bridge (10.77.10.0/24, controller
# 10.77.10.1) running its own sshd and its own kvmfi journal. The partition
# cuts every node off from 10.77.10.254 (`hadoop_injector network`); the
# recover is `recover --all` on every node. Rounds are interleaved; the
# minimum of the rounds is reported (the medians are printed too). Results go
# to stdout as `BENCH-RESULT cluster ...` lines and into BENCHMARKS.md
# (between the cluster-results markers). Needs root, openssh-server, nft.
#
#   bench/cluster-bench.sh [--nodes 1,8,32] [--rounds 5] [--no-write] [--record LOG]
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d /tmp/kvmfi-cluster-bench.XXXXXX)"
CTL="kvmfi-bctl-$$"
PEER=10.77.10.254
NS_LIST=()
SSHD_PIDS=()
SIZES=(1 8 32)
ROUNDS=5
WRITE=1
RESULTS=()
LOAD="${LOAD:-}"

usage() {
  cat >&2 <<USAGE
Usage: $0 [--nodes 1,8,32] [--rounds N] [--no-write] [--record LOG]
Measures cluster_controller against a sequential ssh loop on namespace nodes
and records the figures in BENCHMARKS.md (unless --no-write). Needs root.
--record LOG writes the BENCH-RESULT lines of an earlier run's output instead.
USAGE
}

err() { echo "cluster-bench: $*" >&2; }
die() { err "$*"; exit 1; }

cleanup() {
  local p ns
  for p in "${SSHD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SSHD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "${NS_LIST[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip netns del "$CTL" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

build() {
  err "building release cluster_controller and hadoop_injector (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && nice cargo build -q --release -p cluster_controller -p hadoop_injector) || die "cargo build failed"
}

# start_cluster N: N namespace nodes with sshd; writes $WORK/cluster.conf.
start_cluster() {
  local n="$1" i ns addr d
  ip netns add "$CTL"
  ip -n "$CTL" link set lo up
  ip -n "$CTL" link add br0 type bridge
  ip -n "$CTL" addr add 10.77.10.1/24 dev br0
  ip -n "$CTL" link set br0 up
  : > "$WORK/cluster.conf"
  for ((i = 1; i <= n; i++)); do
    ns="kvmfi-b$i-$$"; addr="10.77.10.$((10 + i))"; d="$WORK/n$i"
    NS_LIST+=("$ns")
    ip netns add "$ns"
    ip link add "kvb$i-$$" netns "$CTL" type veth peer name eth0 netns "$ns"
    ip -n "$CTL" link set "kvb$i-$$" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    mkdir -p "$d/journal"
    cat > "$d/sshd_config" <<CONF
ListenAddress $addr
HostKey $WORK/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv KVMFI_STATE_DIR=$d/journal PATH=$BIN:/usr/sbin:/usr/bin:/sbin:/bin
CONF
    ip netns exec "$ns" /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
    SSHD_PIDS+=($!)
    echo "n$i,$addr,22,DataNode" >> "$WORK/cluster.conf"
  done
  for ((i = 1; i <= n; i++)); do
    local ok=0 t
    for t in $(seq 1 100); do
      ip netns exec "$CTL" timeout 1 bash -c "exec 3<>/dev/tcp/10.77.10.$((10 + i))/22" 2>/dev/null && { ok=1; break; }
      sleep 0.1
    done
    ((ok)) || die "sshd of node $i did not come up"
  done
}

stop_cluster() {
  local p ns
  for p in "${SSHD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SSHD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "${NS_LIST[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip netns del "$CTL" 2>/dev/null || true
  SSHD_PIDS=() NS_LIST=()
  rm -rf "$WORK"/n*
}

accepted() { cat "$WORK"/n*/sshd.log | grep -c 'Accepted publickey' || true; }
faults() { cat "$WORK"/n*/journal/journal.jsonl 2>/dev/null | grep -c '"op":"begin"' || true; }

cc() { ip netns exec "$CTL" "$BIN/cluster_controller" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" "$@" >/dev/null 2>>"$WORK/cc.err"; }
ssh_loop() {
  local addr
  while IFS=, read -r _ addr _; do
    ip netns exec "$CTL" ssh -n -i "$WORK/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
      -o LogLevel=ERROR -o BatchMode=yes -o ConnectTimeout=5 "root@$addr" "$@" >/dev/null
  done < "$WORK/cluster.conf"
}

# timed VAR CMD...: runs CMD; VAR_wall and VAR_cpu get its wall and CPU (user+sys, children included) seconds.
timed() {
  local var="$1"; shift
  local t
  t="$( { TIMEFORMAT='%R %U %S'; time "$@" ; } 2>&1 >/dev/null )" || die "'$*' failed: $t"
  t="$(tail -n 1 <<<"$t")"
  read -r w u s <<<"$t"
  printf -v "${var}_wall" '%s' "$w"
  printf -v "${var}_cpu" '%s' "$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.3f", u + s}')"
}

# stats VALUES...: "min median"
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s", v[1], v[int((NR + 1) / 2)] }'; }

bench_size() {
  local n="$1" r
  start_cluster "$n"
  local ci=() cr=() li=() lr=() ccpu=() lcpu=() conns=()
  # One warm-up of each, not counted (page cache, sshd first start).
  cc partition -t all --peer "$PEER"; cc recover
  for ((r = 1; r <= ROUNDS; r++)); do
    local before
    before=$(accepted)
    timed a cc partition -t all --peer "$PEER"
    [[ $(faults) == "$n" ]] || die "controller partition: $(faults) faults in force, want $n"
    conns+=("$(awk -v a="$(accepted)" -v b="$before" -v n="$n" 'BEGIN{printf "%.2f", (a - b) / n}')")
    timed b cc recover
    [[ $(faults) == 0 ]] || die "controller recover left $(faults) faults"
    timed c ssh_loop hadoop_injector network "$PEER"
    [[ $(faults) == "$n" ]] || die "ssh loop partition: $(faults) faults in force, want $n"
    timed d ssh_loop hadoop_injector recover --all
    [[ $(faults) == 0 ]] || die "ssh loop recover left $(faults) faults"
    # shellcheck disable=SC2154 # set by timed through printf -v
    ci+=("$a_wall"); cr+=("$b_wall"); li+=("$c_wall"); lr+=("$d_wall")
    # shellcheck disable=SC2154
    ccpu+=("$(awk -v x="$a_cpu" -v y="$b_cpu" -v n="$n" 'BEGIN{printf "%.4f", (x + y) / (2 * n)}')")
    # shellcheck disable=SC2154
    lcpu+=("$(awk -v x="$c_cpu" -v y="$d_cpu" -v n="$n" 'BEGIN{printf "%.4f", (x + y) / (2 * n)}')")
    err "n=$n round $r: controller inject ${a_wall}s recover ${b_wall}s | ssh loop inject ${c_wall}s recover ${d_wall}s"
  done
  stop_cluster
  local line
  line="BENCH-RESULT cluster nodes=$n"
  local name vals
  for name in ctl_inject ctl_recover loop_inject loop_recover ctl_cpu_per_node loop_cpu_per_node conns_per_node; do
    case $name in
      ctl_inject) vals=("${ci[@]}") ;; ctl_recover) vals=("${cr[@]}") ;;
      loop_inject) vals=("${li[@]}") ;; loop_recover) vals=("${lr[@]}") ;;
      ctl_cpu_per_node) vals=("${ccpu[@]}") ;; loop_cpu_per_node) vals=("${lcpu[@]}") ;;
      conns_per_node) vals=("${conns[@]}") ;;
    esac
    read -r mn md <<<"$(stats "${vals[@]}")"
    line+=" $name=$mn ${name}_median=$md"
  done
  echo "$line"
  RESULTS+=("$line")
}

write_results() {
  local table="" l
  for l in "${RESULTS[@]}"; do
    table+=$(awk '{
      for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      printf "| %d | %.2f | %.2f | %.2f | %.2f | %.1fx / %.1fx | %.4f | %.4f | %.2f |\n",
        v["nodes"], v["ctl_inject"], v["loop_inject"], v["ctl_recover"], v["loop_recover"],
        v["loop_inject"] / v["ctl_inject"], v["loop_recover"] / v["ctl_recover"],
        v["ctl_cpu_per_node"], v["loop_cpu_per_node"], v["conns_per_node"]
    }' <<<"$l")
    table+=$'\n'
  done
  python3 - "$ROOT/BENCHMARKS.md" "$table" "$(nproc)" "$ROUNDS" "$LOAD" <<'PY'
import sys, datetime
path, table, cores, rounds, load = sys.argv[1:6]
text = open(path).read()
begin, end = "<!-- cluster results begin -->", "<!-- cluster results end -->"
head = ("| nodes | inject: controller (s) | inject: ssh loop (s) | recover: controller (s) | recover: ssh loop (s) "
        "| speed-up inject / recover | client CPU s per node: controller | client CPU s per node: ssh | connections per node per run |\n"
        "|---|---|---|---|---|---|---|---|---|\n")
body = (f"{begin}\nMeasured {datetime.date.today()} on {cores} cores (load average before the run: {load}); "
        f"minimum of {rounds} interleaved rounds (medians in the console output).\n\n{head}{table}{end}")
if begin in text:
    i, j = text.index(begin), text.index(end) + len(end)
    text = text[:i] + body + text[j:]
else:
    text = text.rstrip("\n") + "\n\n" + body + "\n"
open(path, "w").write(text)
PY
  err "BENCHMARKS.md updated"
}

main() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --nodes) IFS=, read -r -a SIZES <<<"$2"; shift ;;
      --rounds) ROUNDS=$2; shift ;;
      --no-write) WRITE=0 ;;
      --record)
        mapfile -t RESULTS < <(grep '^BENCH-RESULT cluster ' "$2")
        ((${#RESULTS[@]})) || die "no BENCH-RESULT cluster line in $2"
        LOAD="${LOAD:-see $2}"
        write_results
        exit 0 ;;
      -h | --help) usage; exit 0 ;;
      *) usage; exit 2 ;;
    esac
    shift
  done
  [[ $(id -u) == 0 ]] || die "needs root (namespaces, sshd)"
  command -v /usr/sbin/sshd >/dev/null || die "needs openssh-server (apt-get install openssh-server)"
  mkdir -p /run/sshd
  LOAD="$(uptime | sed 's/.*load average: //')"
  echo "# load average before the run: $LOAD"
  build
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_ed25519"
  cp "$WORK/id_ed25519.pub" "$WORK/authorized_keys"
  local n
  for n in "${SIZES[@]}"; do bench_size "$n"; done
  ((WRITE)) && write_results
  return 0
}

main "$@"
