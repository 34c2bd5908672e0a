#!/usr/bin/env bash
# Cluster fan-out benchmark: the same inject/recover work on 8, 32, 128 and
# 256 nodes done by cluster_controller (every node at once, and at most 32 at
# once) and by the tools operators use for it:
# pdsh -R ssh (at its default fan-out, 32, and at the node count), parallel-ssh
# and ansible -m raw -f N (Debian's pdsh, pssh, ansible-core). For each: wall
# time of the inject and of the recover, client CPU seconds per node
# (everything the tool started, ssh masters included: a cpuacct cgroup),
# and SSH connections per node per operation (the nodes' sshd logs).
#
# Each node is a network namespace on one bridge (10.78.0.0/16, controller
# 10.78.255.1) running its own sshd (MaxStartups raised) and its own kvmfi
# journal. Inject: every node cuts itself off from 10.78.255.254
# (`hadoop_injector network`); recover: `hadoop_injector recover --all` on
# every node. Host keys are checked by every tool (a known_hosts file of the
# nodes). Every operation is checked: the tool's exit status and exactly one
# fault per node after the inject, none after the recover. Tools are rotated
# within each round; the minimum of the rounds is reported (medians too).
# Ansible keeps its ssh masters (ControlPersist) for the recover that follows
# the inject, and they are ended after the pair.
# At the largest size one more node drops its ssh port: cluster_controller must
# report it unreachable after --connect-timeout without delaying the others.
# Every client gets 30 s to connect (ssh's ConnectTimeout, the controller's
# --connect-timeout, which also bounds its handshake and login): 256 key
# exchanges at once on 2 cores take longer than the controller's default 5 s.
#
# Results: `BENCH-RESULT cluster ...` lines on stdout; BENCHMARKS.md (between
# the cluster-results markers) and the plot bench/cluster-fanout.png unless
# --no-write. Needs root, openssh-server, nft, pdsh, pssh, ansible-core.
#
#   bench/cluster-bench.sh [--nodes 8,32,128,256] [--rounds 3] [--tools LIST] [--no-write] [--record LOG]
set -o errexit -o nounset -o pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$CARGO_TARGET_DIR/release"
WORK="$(mktemp -d /tmp/kvmfi-cluster-bench.XXXXXX)"
CTL="kvmfi-bctl-$$"
DROP="kvmfi-bdrop-$$"
PEER=10.78.255.254
NS_LIST=()
SSHD_PIDS=()
SIZES=(8 32 128 256)
ROUNDS=3
WRITE=1
RESULTS=()
LOAD="${LOAD:-}"
TOOLS=(controller controller-p32 pdsh pdsh-fN pssh ansible)
CGROOT=/sys/fs/cgroup/cpuacct
CGROUPS=()
# The hanging node's connect timeout (the other nodes must not time out:
# 256 handshakes on 2 loaded cores take several seconds).
HANG_TIMEOUT=20
# Rounds at the big sizes are fewer: the nodes' own work (sshd, the injector,
# nft) grows with the node count and dominates there.
declare -A SIZE_ROUNDS=([128]=2 [256]=1)

usage() {
  cat >&2 <<USAGE
Usage: $0 [--nodes 8,32,128,256] [--rounds N] [--tools LIST] [--no-write] [--record LOG]
Times cluster_controller, pdsh -R ssh (-f default and -f N), parallel-ssh and
ansible -m raw -f N doing the same inject/recover on namespace nodes, and records
the figures in BENCHMARKS.md and bench/cluster-fanout.png (unless --no-write).
--rounds N: rounds at 8 and 32 nodes (128: min(N,2), 256: 1). --tools: a comma list of
controller controller-p32 pdsh pdsh-fN pssh ansible (default all). Needs root.
--record LOG writes the BENCH-RESULT lines of an earlier run's output instead.
USAGE
}

err() { echo "cluster-bench: $*" >&2; }
die() { err "$*"; exit 1; }

cleanup() {
  stop_cluster
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

build() {
  err "building release cluster_controller and hadoop_injector (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$ROOT" && nice cargo build -q --release -p cluster_controller -p hadoop_injector) || die "cargo build failed"
}

# addr I: node I's address (I from 1).
addr() { echo "10.78.$(($1 / 200)).$(($1 % 200 + 10))"; }

# start_cluster N: N namespace nodes with sshd; writes cluster.conf, the
# host lists, the known_hosts file and the Ansible inventory.
start_cluster() {
  local n="$1" i ns a d
  ip netns add "$CTL"
  ip -n "$CTL" link set lo up
  ip -n "$CTL" link add br0 type bridge
  ip -n "$CTL" addr add 10.78.255.1/16 dev br0
  ip -n "$CTL" link set br0 up
  : > "$WORK/cluster.conf"; : > "$WORK/hosts"; : > "$WORK/known_hosts"
  local batch="$WORK/ip.batch"
  : > "$batch"
  for ((i = 1; i <= n; i++)); do
    ns="kvmfi-b$i-$$"
    NS_LIST+=("$ns")
    ip netns add "$ns"
    echo "link add kvb$i-$$ netns $CTL type veth peer name eth0 netns $ns" >> "$batch"
  done
  ip -batch "$batch"
  : > "$batch"
  for ((i = 1; i <= n; i++)); do echo "link set kvb$i-$$ master br0 up" >> "$batch"; done
  ip -n "$CTL" -batch "$batch"
  for ((i = 1; i <= n; i++)); do
    ns="kvmfi-b$i-$$"; a="$(addr "$i")"; d="$WORK/n$i"
    printf 'link set lo up\naddr add %s/16 dev eth0\nlink set eth0 up\n' "$a" > "$batch"
    ip -n "$ns" -batch "$batch"
    mkdir -p "$d/journal"
    cat > "$d/sshd_config" <<CONF
ListenAddress $a
HostKey $WORK/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 1000:30:2000
MaxSessions 100
SetEnv KVMFI_STATE_DIR=$d/journal PATH=$BIN:/usr/sbin:/usr/bin:/sbin:/bin
CONF
    ip netns exec "$ns" /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
    SSHD_PIDS+=($!)
    echo "n$i,$a,22,DataNode" >> "$WORK/cluster.conf"
    echo "$a" >> "$WORK/hosts"
    echo "$a $(cut -d' ' -f1,2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"
  done
  for ((i = 1; i <= n; i++)); do
    local ok=0 t
    for t in $(seq 1 100); do
      ip netns exec "$CTL" timeout 1 bash -c "exec 3<>/dev/tcp/$(addr "$i")/22" 2>/dev/null && { ok=1; break; }
      sleep 0.1
    done
    ((ok)) || die "sshd of node $i did not come up"
  done
  cp "$WORK/known_hosts" "$WORK/home/.ssh/known_hosts"
  # The controller writes the inventory ansible reads.
  "$BIN/cluster_controller" -c "$WORK/cluster.conf" nodes --export ansible > "$WORK/inventory.ini"
}

stop_cluster() {
  local p ns
  for p in "${SSHD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SSHD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  end_leftovers
  for ns in "${NS_LIST[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ip netns del "$DROP" 2>/dev/null || true
  ip netns del "$CTL" 2>/dev/null || true
  SSHD_PIDS=() NS_LIST=() CGROUPS=()
  rm -rf "$WORK"/n[0-9]* "$WORK/cp"
}

accepted() { cat "$WORK"/n[0-9]*/sshd.log | grep -c 'Accepted publickey' || true; }
faults() { cat "$WORK"/n[0-9]*/journal/journal.jsonl 2>/dev/null | grep -c '"op":"begin"' || true; }

SSH_OPTS=""
# op TOOL N inject|recover: one operation on every node with TOOL.
op() {
  local tool="$1" n="$2" what="$3" cmd
  case $what in
    inject) cmd="hadoop_injector network $PEER" ;;
    recover) cmd="hadoop_injector recover --all" ;;
  esac
  case $tool in
    controller | controller-p32)
      # controller-p32: at most 32 nodes at once, pdsh's default fan-out.
      local par="$n"
      [[ $tool == controller-p32 ]] && par=32
      if [[ $what == inject ]]; then
        ip netns exec "$CTL" env HOME="$WORK/home" "$BIN/cluster_controller" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" \
          --connect-timeout 30s --parallel "$par" partition -t all --peer "$PEER"
      else
        ip netns exec "$CTL" env HOME="$WORK/home" "$BIN/cluster_controller" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" \
          --connect-timeout 30s --parallel "$par" recover
      fi ;;
    pdsh) ip netns exec "$CTL" env PDSH_SSH_ARGS_APPEND="$SSH_OPTS" pdsh -S -R ssh -l root -w "^$WORK/hosts" "$cmd" ;;
    pdsh-fN) ip netns exec "$CTL" env PDSH_SSH_ARGS_APPEND="$SSH_OPTS" pdsh -S -R ssh -f "$n" -l root -w "^$WORK/hosts" "$cmd" ;;
    pssh) ip netns exec "$CTL" parallel-ssh -h "$WORK/hosts" -l root -p "$n" -t 120 -x "$SSH_OPTS" "$cmd" ;;
    ansible)
      ip netns exec "$CTL" env ANSIBLE_HOME="$WORK/ansible" ANSIBLE_LOCAL_TEMP="$WORK/ansible/tmp" \
        ANSIBLE_SSH_CONTROL_PATH_DIR="$WORK/cp" ANSIBLE_HOST_KEY_CHECKING=True ANSIBLE_TIMEOUT=30 \
        ansible all -i "$WORK/inventory.ini" -m raw -a "$cmd" -f "$n" -u root --private-key "$WORK/id_ed25519" \
        --ssh-common-args="-o UserKnownHostsFile=$WORK/known_hosts -o StrictHostKeyChecking=yes" -o ;;
  esac
}

# timed VAR CMD...: runs CMD in a fresh cpuacct cgroup; VAR_wall and VAR_cpu get
# its wall seconds and the CPU seconds of everything it started.
timed() {
  local var="$1"; shift
  local cg="$CGROOT/kvmfi-bench-$$-$RANDOM$RANDOM" t0 t1 rc=0
  mkdir "$cg"
  CGROUPS+=("$cg")
  t0=$(date +%s%N)
  ( echo "$BASHPID" > "$cg/tasks"; "$@" ) >"$WORK/op.out" 2>&1 || rc=$?
  t1=$(date +%s%N)
  ((rc == 0)) || die "'$*' failed (exit $rc): $(tail -n 5 "$WORK/op.out")"
  printf -v "${var}_wall" '%.3f' "$(awk -v a="$t0" -v b="$t1" 'BEGIN{ print (b - a) / 1e9 }')"
  printf -v "${var}_cpu" '%.3f' "$(awk '{ print $1 / 1e9 }' "$cg/cpuacct.usage")"
}

# end_leftovers: ends what the measured tools left running (ssh masters).
end_leftovers() {
  local cg
  for cg in "${CGROUPS[@]}"; do
    [[ -e "$cg/tasks" ]] && xargs -r kill < "$cg/tasks" 2>/dev/null
    rmdir "$cg" 2>/dev/null || true
  done
  CGROUPS=()
}

# stats VALUES...: "min median"
stats() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%s %s", v[1], v[int((NR + 1) / 2)] }'; }

declare -A INJ REC CPU CONNS
bench_size() {
  local n="$1" r t rounds="${SIZE_ROUNDS[$1]:-$ROUNDS}"
  ((rounds <= ROUNDS)) || rounds=$ROUNDS
  local t0=$SECONDS
  start_cluster "$n"
  err "n=$n: $n nodes up in $((SECONDS - t0)) s; sshd RSS total $(ps -o rss= -p "$(IFS=,; echo "${SSHD_PIDS[*]}")" | awk '{ s += $1 } END { printf "%.0f MB", s / 1024 }')"
  for t in "${TOOLS[@]}"; do INJ[$t]="" REC[$t]="" CPU[$t]="" CONNS[$t]=""; done
  # One warm-up, not counted (page cache, first start of each sshd).
  op controller "$n" inject > "$WORK/op.out" 2>&1 || die "warm-up inject at n=$n failed: $(grep -v ' ok' "$WORK/op.out" | tail -n 5)"
  op controller "$n" recover > "$WORK/op.out" 2>&1 || die "warm-up recover at n=$n failed: $(grep -v ' ok' "$WORK/op.out" | tail -n 5)"
  [[ $(faults) == 0 ]] || die "warm-up left $(faults) faults"
  for ((r = 1; r <= rounds; r++)); do
    local k
    for ((k = 0; k < ${#TOOLS[@]}; k++)); do
      t="${TOOLS[$(((k + r - 1) % ${#TOOLS[@]}))]}"
      local before
      before=$(accepted)
      timed a op "$t" "$n" inject
      [[ $(faults) == "$n" ]] || die "$t inject at n=$n: $(faults) faults in force, want $n"
      timed b op "$t" "$n" recover
      [[ $(faults) == 0 ]] || die "$t recover at n=$n left $(faults) faults"
      # shellcheck disable=SC2154 # a_wall etc. are set by timed through printf -v
      INJ[$t]+=" $a_wall"
      # shellcheck disable=SC2154
      REC[$t]+=" $b_wall"
      # shellcheck disable=SC2154
      CPU[$t]+=" $(awk -v x="$a_cpu" -v y="$b_cpu" -v n="$n" 'BEGIN{printf "%.4f", (x + y) / (2 * n)}')"
      CONNS[$t]+=" $(awk -v a="$(accepted)" -v b="$before" -v n="$n" 'BEGIN{printf "%.2f", (a - b) / (2 * n)}')"
      err "n=$n round $r $t: inject ${a_wall}s recover ${b_wall}s cpu ${a_cpu}+${b_cpu}s"
      # Ansible's ssh masters (ControlPersist) end with the pair: every pair
      # starts without connections, whatever ran before.
      end_leftovers
    done
  done
  local hang=""
  if [[ "$n" == "${SIZES[-1]}" && " ${TOOLS[*]} " == *" controller "* ]]; then hang="$(hang_check "$n")"; fi
  stop_cluster
  for t in "${TOOLS[@]}"; do
    local line="BENCH-RESULT cluster nodes=$n tool=$t rounds=$rounds" name vals mn md
    for name in inject recover cpu_per_node conns_per_op; do
      case $name in
        inject) read -r -a vals <<<"${INJ[$t]}" ;; recover) read -r -a vals <<<"${REC[$t]}" ;;
        cpu_per_node) read -r -a vals <<<"${CPU[$t]}" ;; conns_per_op) read -r -a vals <<<"${CONNS[$t]}" ;;
      esac
      read -r mn md <<<"$(stats "${vals[@]}")"
      line+=" $name=$mn ${name}_median=$md"
    done
    [[ $t == controller && -n "$hang" ]] && line+=" $hang"
    echo "$line"
    RESULTS+=("$line")
  done
}

# hang_check N: N nodes plus one whose ssh port drops packets; prints
# "hang_wall=S base_wall=S timeout=S": cluster_controller must finish within
# the base time plus the connect timeout, with N nodes ok and that one unreachable.
hang_check() {
  local n="$1" out rc=0 t0 t1 base
  ip netns add "$DROP"
  ip link add "kvbd-$$" netns "$CTL" type veth peer name eth0 netns "$DROP"
  ip -n "$CTL" link set "kvbd-$$" master br0 up
  ip -n "$DROP" link set lo up
  ip -n "$DROP" addr add 10.78.254.250/16 dev eth0
  ip -n "$DROP" link set eth0 up
  ip netns exec "$DROP" nft add table inet deadnode
  ip netns exec "$DROP" nft add chain inet deadnode in '{ type filter hook input priority 0; policy accept; }'
  ip netns exec "$DROP" nft add rule inet deadnode in tcp dport 22 drop
  { cat "$WORK/cluster.conf"; echo "dropped,10.78.254.250,22,DataNode"; } > "$WORK/cluster-hang.conf"
  local cc=(ip netns exec "$CTL" env HOME="$WORK/home" "$BIN/cluster_controller" -i "$WORK/id_ed25519" --connect-timeout "${HANG_TIMEOUT}s" --parallel "$((n + 1))")
  t0=$(date +%s%N)
  "${cc[@]}" -c "$WORK/cluster.conf" status > /dev/null 2>&1 || die "status of $n nodes failed"
  t1=$(date +%s%N)
  base=$(awk -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.2f", (b - a) / 1e9 }')
  t0=$(date +%s%N)
  out="$("${cc[@]}" -c "$WORK/cluster-hang.conf" status 2>&1)" || rc=$?
  t1=$(date +%s%N)
  local wall
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN{ printf "%.2f", (b - a) / 1e9 }')
  ((rc == 1)) || die "hang check: exit $rc, want 1"
  grep -Eq "^dropped +10.78.254.250:22 +UNREACHABLE .*no answer within ${HANG_TIMEOUT}s" <<<"$out" || die "hang check: the dropped node is not reported: $(grep dropped <<<"$out")"
  [[ "$(grep -Ec '^n[0-9]+ +10\.78\.[0-9.]+:22 +up ' <<<"$out")" == "$n" ]] || die "hang check: not every other node up: $(grep -vc ' up ' <<<"$out") lines not up"
  # The others finish as they would without it; the whole run waits only
  # for that node's connect timeout.
  awk -v w="$wall" -v b="$base" -v t="$HANG_TIMEOUT" 'BEGIN{ exit !(w <= (b > t ? b : t) + 3) }' \
    || die "hang check: ${wall}s with a ${HANG_TIMEOUT} s connect timeout (${base}s without the node)"
  err "hang check: $n nodes + 1 dropping: ${wall}s (without it ${base}s; connect timeout $HANG_TIMEOUT s); $n up, 1 unreachable"
  echo "hang_wall=$wall base_wall=$base timeout=$HANG_TIMEOUT"
}

write_results() {
  local py
  py="$(for p in python3 /usr/bin/python3; do "$p" -c 'import matplotlib' 2>/dev/null && { echo "$p"; break; }; done)"
  [[ -n "$py" ]] || { err "no python3 with matplotlib (apt-get install python3-matplotlib): the plot is not drawn"; py=python3; }
  "$py" - "$ROOT/BENCHMARKS.md" "$ROOT/bench/cluster-fanout.png" "$(nproc)" "$LOAD" "${RESULTS[@]}" <<'PY'
import sys, datetime
path, png, cores, load, *lines = sys.argv[1:]
rows = []
for l in lines:
    kv = dict(w.split("=", 1) for w in l.split()[2:])
    rows.append(kv)
names = {"controller": "cluster_controller (--parallel N)", "controller-p32": "cluster_controller --parallel 32", "pdsh": "pdsh -R ssh (-f 32, its default)",
         "pdsh-fN": "pdsh -R ssh -f N", "pssh": "parallel-ssh -p N", "ansible": "ansible -m raw -f N"}
order = list(names)
sizes = sorted({int(r["nodes"]) for r in rows})
def get(n, t):
    return next((r for r in rows if int(r["nodes"]) == n and r["tool"] == t), None)
out = ["| nodes | tool | inject (s) | recover (s) | inject + recover (s) | vs controller | client CPU s per node per op | SSH connections per node per op |",
       "|---|---|---|---|---|---|---|---|"]
for n in sizes:
    c = get(n, "controller")
    ctot = float(c["inject"]) + float(c["recover"]) if c else None
    for t in order:
        r = get(n, t)
        if not r:
            continue
        tot = float(r["inject"]) + float(r["recover"])
        rel = f"{tot / ctot:.2f}x" if ctot else "-"
        out.append(f"| {n} | {names[t]} | {float(r['inject']):.2f} | {float(r['recover']):.2f} | {tot:.2f} | {rel} | {float(r['cpu_per_node']):.4f} | {float(r['conns_per_op_median']):.2f} |")
hang = [r for r in rows if "hang_wall" in r]
note = ""
if hang:
    h = hang[0]
    note = (f"\nHanging node at {h['nodes']} nodes: one more node whose ssh port drops every packet; "
            f"`cluster_controller status` took {h['hang_wall']} s against {h['base_wall']} s without it "
            f"(connect timeout {h['timeout']} s), every other node reported up, that one unreachable.\n")
rounds = ", ".join(f"{n}: {get(n, 'controller')['rounds']}" for n in sizes if get(n, "controller"))
begin, end = "<!-- cluster results begin -->", "<!-- cluster results end -->"
body = (f"{begin}\nMeasured {datetime.date.today()} on {cores} cores (load average before the run: {load}); "
        f"minimum of the rounds (nodes: rounds = {rounds}; medians in the console output); connections: the median. "
        f"Plot: [bench/cluster-fanout.png](bench/cluster-fanout.png).\n\n" + "\n".join(out) + "\n" + note + end)
text = open(path).read()
if begin in text:
    i, j = text.index(begin), text.index(end) + len(end)
    text = text[:i] + body + text[j:]
else:
    text = text.rstrip("\n") + "\n\n" + body + "\n"
open(path, "w").write(text)
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit(0)
fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
for t in order:
    pts = [(n, float(get(n, t)["inject"]) + float(get(n, t)["recover"])) for n in sizes if get(n, t)]
    if pts:
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=names[t])
ax.set_xscale("log", base=2)
ax.set_yscale("log")
from matplotlib.ticker import ScalarFormatter, NullFormatter
ax.yaxis.set_major_formatter(ScalarFormatter())
ax.yaxis.set_minor_formatter(NullFormatter())
ax.set_xticks(sizes)
ax.set_xticklabels([str(s) for s in sizes])
ax.set_xlabel("nodes")
ax.set_ylabel("inject + recover, wall time (s)")
ax.set_title(f"Fan-out to namespace nodes, {cores} cores (minimum of the rounds)")
ax.grid(True, which="both", alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(png)
PY
  err "BENCHMARKS.md and bench/cluster-fanout.png updated"
}

main() {
  while [[ $# -gt 0 ]]; do
    case $1 in
      --nodes) IFS=, read -r -a SIZES <<<"$2"; shift ;;
      --tools) IFS=, read -r -a TOOLS <<<"$2"; shift ;;
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
  local t
  for t in pdsh parallel-ssh ansible; do
    command -v "$t" >/dev/null || die "needs $t (apt-get install pdsh pssh ansible-core)"
  done
  [[ -w "$CGROOT" ]] || die "needs the cpuacct cgroup at $CGROOT to count the CPU of every process a tool starts"
  mkdir -p /run/sshd "$WORK/home/.ssh" "$WORK/ansible/tmp" "$WORK/cp"
  chmod 700 "$WORK/home/.ssh"
  ulimit -n 65536 2>/dev/null || true
  LOAD="$(uptime | sed 's/.*load average: //')"
  echo "# load average before the run: $LOAD"
  build
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_ed25519"
  cp "$WORK/id_ed25519.pub" "$WORK/authorized_keys"
  SSH_OPTS="-i $WORK/id_ed25519 -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=$WORK/known_hosts -o ConnectTimeout=30 -o LogLevel=ERROR"
  local n start=$SECONDS
  for n in "${SIZES[@]}"; do bench_size "$n"; done
  err "the benchmark took $((SECONDS - start)) s"
  ((WRITE)) && write_results
  return 0
}

main "$@"
