#!/usr/bin/env bash
# cluster_controller and cluster_manage.sh against a real cluster of
# namespace nodes. Each node is a network namespace (10.77.9.1N on a bridge
# in the controller's namespace "ctl", 10.77.9.1) plus its own pid and
# mount namespace, running its own sshd (key-only login, generated keys)
# and stand-in JVMs with the exact Hadoop main classes; the node's journal
# is its own (sshd's SetEnv KVMFI_STATE_DIR). The injectors the nodes run
# are the real hadoop_injector / cloudstack_injector built for this host.
# A "dead" namespace (10.77.9.50) drops port 22, and 10.77.9.51 has no
# sshd: both must be reported unreachable within the connect timeout.
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-cluster.XXXXXX)"
export WORK
SUITE=cluster
mkdir -p "$WORK/logs"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
CC="$BIN_DIR/cluster_controller"
CTL="kvmfi-ctl-$$"
DEAD="kvmfi-dead-$$"
TMUX_SOCK="kvmfi-cluster-$$"
NAMES=(master slave1 slave2 slave3)
declare -A NS ADDR ROLES CLASSES
NODE_PIDS=()
CL_STANDIN="$CACHE/cluster-standin/classes"

cleanup() {
  tmux -L "$TMUX_SOCK" kill-server 2>/dev/null || true
  local p
  # unshare ignores SIGTERM while it waits; SIGKILL takes pid 1 of the
  # node (--kill-child), and with it every process of the node.
  for p in "${NODE_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${NODE_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  local n
  for n in "${NAMES[@]}"; do ip netns del "${NS[$n]:-none}" 2>/dev/null || true; done
  ip netns del "$DEAD" 2>/dev/null || true
  ip netns del "$CTL" 2>/dev/null || true
  if [[ -n "${BOOT_DB_PID:-}" ]]; then kill "$BOOT_DB_PID" 2>/dev/null || true; fi
  ip netns del "${BOOTNS:-none}" 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }
# cc ARGS...: the controller, from the controller's namespace, on the test cluster.
cc() { in_ns "$CTL" "$CC" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" --connect-timeout 3s --command-timeout 60s "$@"; }
# tcp_open NS ADDR PORT: true when a TCP connect from NS to ADDR:PORT succeeds within 2 s.
tcp_open() { in_ns "$1" timeout 2 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null; }

# Stand-in JVMs with the exact main classes of NameNode, DataNode and
# ResourceManager (compiled once into the cache).
build_standins() {
  [[ -f "$CL_STANDIN/../stamp" ]] && return 0
  local out="$CACHE/cluster-standin" class pkg simple src
  rm -rf "$out" && mkdir -p "$out/src" "$out/classes"
  for class in org.apache.hadoop.hdfs.server.namenode.NameNode \
               org.apache.hadoop.hdfs.server.datanode.DataNode \
               org.apache.hadoop.yarn.server.resourcemanager.ResourceManager; do
    pkg="${class%.*}"; simple="${class##*.}"
    src="$out/src/${class//./\/}.java"
    mkdir -p "$(dirname "$src")"
    sed -e "s/@PKG@/$pkg/" -e "s/@CLASS@/$simple/" "$HERE/java/Standin.java.in" > "$src"
  done
  local srcs
  mapfile -t srcs < <(find "$out/src" -name '*.java')
  javac -d "$out/classes" "${srcs[@]}"
  touch "$out/stamp"
}

# node_config NAME: sshd_config and the init script of a node.
node_config() {
  local n="$1" d="$WORK/nodes/$1"
  mkdir -p "$d/journal"
  # The same host key on every node, in a file of its own (a test changes one).
  cp "$WORK/host_ed25519" "$WORK/host_ed25519.pub" "$WORK/host_ecdsa" "$d/"
  cat > "$d/sshd_config" <<CONF
ListenAddress ${ADDR[$n]}
Port 22
Port 2200
HostKey $d/host_ecdsa
HostKey $d/host_ed25519
PidFile $d/sshd.pid
AuthorizedKeysFile $WORK/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 100:30:200
SetEnv KVMFI_STATE_DIR=$d/journal KVMFI_HALT_FILE=$d/halt PATH=$BIN_DIR:$WORK/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CONF
  cat > "$d/init.sh" <<INIT
#!/usr/bin/env bash
# pid 1 of node $n: stand-in daemons, then sshd in the foreground.
ip link set lo up
for c in ${CLASSES[$n]}; do
  java -Xmx16m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -cp "$CL_STANDIN" "\$c" >"$d/\${c##*.}.log" 2>&1 &
done
exec /usr/sbin/sshd -D -e -f "$d/sshd_config" 2>"$d/sshd.log"
INIT
  chmod +x "$d/init.sh"
}

setup_cluster() {
  build_standins
  mkdir -p /run/sshd "$WORK/bin" "$WORK/nodes"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/id_ed25519" -C kvmfi-cluster-test
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_ed25519" -C kvmfi-cluster-host
  # An ECDSA key too, listed first: known_hosts holds only the ed25519 one,
  # as ssh records it, so the controller must ask for that type.
  ssh-keygen -q -t ecdsa -N '' -f "$WORK/host_ecdsa" -C kvmfi-cluster-host
  cp "$WORK/id_ed25519.pub" "$WORK/authorized_keys"
  ip netns add "$CTL"
  in_ns "$CTL" ip link set lo up
  in_ns "$CTL" ip link add br0 type bridge
  in_ns "$CTL" ip addr add 10.77.9.1/24 dev br0
  in_ns "$CTL" ip link set br0 up
  local i=0 n
  MASTER_ROLES="NameNode,ResourceManager"
  for n in "${NAMES[@]}" dead; do
    i=$((i + 1))
    local ns="kvmfi-n$i-$$"
    [[ $n == dead ]] && ns="$DEAD"
    NS[$n]="$ns"
    ip netns add "$ns"
    ip link add "kvc$i-$$" netns "$CTL" type veth peer name eth0 netns "$ns"
    in_ns "$CTL" ip link set "kvc$i-$$" master br0 up
    in_ns "$ns" ip link set lo up
    in_ns "$ns" ip link set eth0 up
  done
  ADDR[master]=10.77.9.11 ADDR[slave1]=10.77.9.12 ADDR[slave2]=10.77.9.13 ADDR[slave3]=10.77.9.14
  CLASSES[master]="org.apache.hadoop.hdfs.server.namenode.NameNode org.apache.hadoop.yarn.server.resourcemanager.ResourceManager"
  ROLES[master]="$MASTER_ROLES"
  for n in slave1 slave2 slave3; do
    CLASSES[$n]="org.apache.hadoop.hdfs.server.datanode.DataNode"
    ROLES[$n]="DataNode"
  done
  for n in "${NAMES[@]}"; do
    in_ns "${NS[$n]}" ip addr add "${ADDR[$n]}/24" dev eth0
    in_ns "${NS[$n]}" ip route add default via 10.77.9.1
    node_config "$n"
    # Not through a function: $! must be unshare itself (ip netns exec execs it).
    ip netns exec "${NS[$n]}" unshare --pid --fork --kill-child --mount-proc "$WORK/nodes/$n/init.sh" \
      >"$WORK/logs/node-$n.log" 2>&1 &
    NODE_PIDS+=($!)
  done
  # The dead node: port 22 of .50 drops everything; .51 answers but has no sshd.
  in_ns "$DEAD" ip addr add 10.77.9.50/24 dev eth0
  in_ns "$DEAD" ip addr add 10.77.9.51/24 dev eth0
  in_ns "$DEAD" nft add table inet deadnode
  in_ns "$DEAD" nft add chain inet deadnode in '{ type filter hook input priority 0; policy accept; }'
  in_ns "$DEAD" nft add rule inet deadnode in ip daddr 10.77.9.50 tcp dport 22 drop
  {
    echo "# generated by cluster_suite.sh"
    for n in "${NAMES[@]}"; do echo "$n,${ADDR[$n]},22,${ROLES[$n]}"; done
  } > "$WORK/cluster.conf"
  { cat "$WORK/cluster.conf"
    echo "dropped,10.77.9.50,22,DataNode"
    echo "nosshd,10.77.9.51,22,DataNode"
  } > "$WORK/cluster-dead.conf"
  for n in "${NAMES[@]}"; do
    wait_until 20 tcp_open "$CTL" "${ADDR[$n]}" 22 || { echo "RESULT FAIL cluster-setup sshd of $n not up"; exit 1; }
  done
  # The controller's ~/.ssh: the nodes' host keys are known (host keys are
  # checked by default); nothing of the real root's ~/.ssh is used.
  mkdir -p "$WORK/home/.ssh" && chmod 700 "$WORK/home/.ssh"
  for n in "${NAMES[@]}"; do echo "${ADDR[$n]} $(cut -d' ' -f1,2 "$WORK/host_ed25519.pub")"; done > "$WORK/home/.ssh/known_hosts"
  export HOME="$WORK/home"
  # Every stand-in JVM up (they print "up").
  local deadline=$((SECONDS + 60))
  while (( SECONDS < deadline )); do
    [[ $(grep -l '^up ' "$WORK"/nodes/*/*.log 2>/dev/null | wc -l) -ge 5 ]] && break
    sleep 0.5
  done
  [[ $(grep -l '^up ' "$WORK"/nodes/*/*.log 2>/dev/null | wc -l) -ge 5 ]] || {
    echo "RESULT FAIL cluster-setup stand-in JVMs not up"; exit 1; }
  echo "RESULT PASS cluster/setup"
}

# st: status --json of the test cluster into $WORK/st.json (exit status kept in ST_RC).
st() {
  ST_RC=0
  cc --json status > "$WORK/st.json" 2>"$WORK/st.err" || ST_RC=$?
}
# node_field NODE JQ: a field of a node in $WORK/st.json.
node_field() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    o = json.loads(l)
    if o["node"] == sys.argv[2]:
        print(eval(sys.argv[3], {"o": o}))
' "$WORK/st.json" "$1" "$2"; }
# daemon_state NODE COMP: up (running or sleeping) / stopped / none.
daemon_state() {
  st
  node_field "$1" 'next((("up" if d["state"] in ("running", "sleeping") else d["state"]) for d in o["daemons"] if d["component"] == "'"$2"'"), "none")'
}
daemon_is() { [[ "$(daemon_state "$1" "$2")" == "$3" ]]; }
faults_total() {
  st
  python3 -c 'import json,sys; print(sum(len(json.loads(l)["faults"]) for l in open(sys.argv[1])))' "$WORK/st.json"
}
no_faults() {
  local n
  n="$(faults_total)"
  [[ "$n" == 0 ]] || { fail "$n fault(s) still in force: $(cat "$WORK/st.json")"; return 1; }
}
# isolated NAME: NAME reaches no other node and none reaches it; the
# controller still reaches it.
isolated() {
  local n="$1" o
  for o in "${NAMES[@]}"; do
    [[ $o == "$n" ]] && continue
    tcp_open "${NS[$o]}" "${ADDR[$n]}" 22 && { fail "$o still reaches $n"; return 1; }
    tcp_open "${NS[$n]}" "${ADDR[$o]}" 22 && { fail "$n still reaches $o"; return 1; }
  done
  tcp_open "$CTL" "${ADDR[$n]}" 22 || { fail "the controller lost $n"; return 1; }
}
all_connected() {
  local a b
  for a in "${NAMES[@]}"; do
    for b in "${NAMES[@]}"; do
      [[ $a == "$b" ]] && continue
      tcp_open "${NS[$a]}" "${ADDR[$b]}" 22 || { fail "$a does not reach $b"; return 1; }
    done
  done
}

# --- tests -----------------------------------------------------------------

test_nodes_and_bad_conf() {
  cc nodes | grep -q $'^slave3\t10.77.9.14\t22\tDataNode$' || { fail "nodes: $(cc nodes)"; return 1; }
  printf 'a,10.77.9.11,22,NameNode\nb,10.77.9.12,22\n' > "$WORK/bad.conf"
  expect_rc 2 in_ns "$CTL" "$CC" -c "$WORK/bad.conf" nodes || return 1
  [[ "$ERR" == *"bad.conf: line 2: "*"has 3 field(s)"* ]] || { fail "error: $ERR"; return 1; }
  expect_rc 2 cc inject -t nosuch hadoop crash dn || return 1
  [[ "$ERR" == *"no node named 'nosuch'"* ]] || { fail "error: $ERR"; return 1; }
}

test_status_every_node() {
  st
  [[ $ST_RC == 0 ]] || { fail "status exited $ST_RC: $(cat "$WORK/st.err")"; return 1; }
  local n
  for n in "${NAMES[@]}"; do
    [[ "$(node_field "$n" 'o["reachable"]')" == True ]] || { fail "$n not reachable"; return 1; }
  done
  [[ "$(node_field master 'sorted(d["component"] for d in o["daemons"])')" == "['nn', 'rm']" ]] \
    || { fail "master daemons: $(node_field master 'o["daemons"]')"; return 1; }
  [[ "$(node_field slave2 '[d["component"] for d in o["daemons"]]')" == "['dn']" ]] || { fail "slave2 daemons"; return 1; }
  # The text table names every node, up.
  local text
  text="$(cc status)"
  for n in "${NAMES[@]}"; do
    grep -Eq "^$n +${ADDR[$n]}:22 +up " <<<"$text" || { fail "status table lacks $n: $text"; return 1; }
  done
}

test_inject_crash_by_name_and_recover() {
  cc inject -t slave2 hadoop crash dn > "$WORK/out" || { fail "inject failed: $(cat "$WORK/out")"; return 1; }
  grep -q 'crash dn: [0-9]*.crash.dn' "$WORK/out" || { fail "report: $(cat "$WORK/out")"; return 1; }
  daemon_is slave2 dn none || { fail "slave2's DataNode still runs"; return 1; }
  daemon_is slave1 dn up || { fail "slave1's DataNode was hit too"; return 1; }
  cc recover > "$WORK/out" || { fail "recover failed: $(cat "$WORK/out")"; return 1; }
  cat "$WORK/out"
  wait_until 20 daemon_is slave2 dn up || { fail "slave2's DataNode not restarted"; return 1; }
  no_faults
}

# kvmfi-halt --cluster: every node undoes its faults and refuses new ones
# until --release --cluster.
test_halt_cluster() {
  local halt=(in_ns "$CTL" "$BIN_DIR/kvmfi-halt" --cluster -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" --connect-timeout 3s)
  cc inject hadoop hang dn > "$WORK/out" || { fail "$(cat "$WORK/out")"; return 1; }
  cc inject -t slave1 hadoop isolate 10.77.9.99 > "$WORK/out" || { fail "$(cat "$WORK/out")"; return 1; }
  "${halt[@]}" --reason "cluster suite" > "$WORK/out" 2>&1 || { fail "halt --cluster failed: $(cat "$WORK/out")"; return 1; }
  cat "$WORK/out"
  local n
  for n in "${NAMES[@]}"; do
    [[ -s "$WORK/nodes/$n/halt" ]] || { fail "$n has no halt flag"; return 1; }
    grep -q "cluster suite" "$WORK/nodes/$n/halt" || { fail "$n's flag lacks the reason"; return 1; }
  done
  for n in slave1 slave2 slave3; do daemon_is "$n" dn up || { fail "$n dn still stopped after the halt"; return 1; }; done
  no_faults || return 1
  ! cc inject -t slave2 hadoop hang dn > "$WORK/out" 2>&1 || { fail "inject accepted while halted"; return 1; }
  grep -q "kvmfi is halted" "$WORK/out" || { fail "no halt error: $(cat "$WORK/out")"; return 1; }
  daemon_is slave2 dn up || { fail "slave2 dn stopped while halted"; return 1; }
  "${halt[@]}" --reason again > "$WORK/out" 2>&1 || { fail "a second halt --cluster failed: $(cat "$WORK/out")"; return 1; }
  "${halt[@]}" --release > "$WORK/out" 2>&1 || { fail "release --cluster failed: $(cat "$WORK/out")"; return 1; }
  for n in "${NAMES[@]}"; do [[ ! -e "$WORK/nodes/$n/halt" ]] || { fail "$n still halted"; return 1; }; done
  cc inject -t slave2 hadoop hang dn > "$WORK/out" || { fail "inject refused after release: $(cat "$WORK/out")"; return 1; }
  cc recover > "$WORK/out" || { fail "$(cat "$WORK/out")"; return 1; }
  no_faults
}

# --- kvmfi-experiment with faults and probes on the nodes ---------------------

# xp ARGS...: kvmfi-experiment from the controller's namespace, its run
# journal in $WORK/xpj.
xp() { in_ns "$CTL" env KVMFI_EXPERIMENT_DIR="$WORK/xpj" "$BIN_DIR/kvmfi-experiment" "$@"; }
XP_SSH=(-i "$WORK/id_ed25519" --connect-timeout 3s)
# xp_file NAME DURATION PROBE_NODE PROBE_COMMAND...: an experiment that hangs
# slave2's DataNode for DURATION while a command probe runs on PROBE_NODE.
xp_file() {
  local name="$1" dur="$2" pnode="$3"; shift 3
  local cmd
  cmd="$(printf '"%s", ' "$@")"
  cat > "$WORK/$name.toml" <<TOML
title = "$name"
[target]
cluster_conf = "$WORK/cluster.conf"
roles = ["DataNode"]
[steady_state]
probes = ["probe"]
interval = "1s"
settle = "10s"
[[probe]]
name = "probe"
type = "command"
node = "$pnode"
command = [${cmd%, }]
[[method]]
fault = "hadoop_injector"
nodes = ["slave2"]
args = ["hang", "dn"]
duration = "$dur"
TOML
}
# report_field DIR EXPR: a Python expression over report.json (as r).
report_field() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]+"/report.json")); print(eval(sys.argv[2]))' "$1" "$2"; }
xp_journal_empty() { [[ ! -s "$WORK/xpj/journal.jsonl" ]]; }

# A fault on slave2 applied over SSH, held, undone there by the injector's
# own recover; the probe (on master) held throughout.
test_experiment_remote_fault_rolled_back() {
  xp_file xp-held 4s master pgrep -f namenode.NameNode
  xp plan "$WORK/xp-held.toml" > "$WORK/out" || { fail "plan: $(cat "$WORK/out")"; return 1; }
  grep -q 's1: .*\[on node slave2\]' "$WORK/out" || { fail "plan lacks the node: $(cat "$WORK/out")"; return 1; }
  xp run --report "$WORK/xp-held" "${XP_SSH[@]}" "$WORK/xp-held.toml" > "$WORK/xp.out" 2>&1 &
  local pid=$! rc=0
  wait_until 20 daemon_is slave2 dn stopped || { fail "slave2's DataNode never hung: $(cat "$WORK/xp.out")"; return 1; }
  daemon_is slave1 dn up || { fail "slave1 was hit too"; return 1; }
  wait "$pid" || rc=$?
  [[ $rc == 0 ]] || { fail "run exited $rc: $(cat "$WORK/xp.out")"; return 1; }
  daemon_is slave2 dn up || { fail "slave2's DataNode still hung after the run"; return 1; }
  no_faults || return 1
  xp_journal_empty || { fail "run journal not empty: $(cat "$WORK/xpj/journal.jsonl")"; return 1; }
  [[ "$(report_field "$WORK/xp-held" 'r["verdict"]')" == held ]] || { fail "verdict"; return 1; }
  [[ "$(report_field "$WORK/xp-held" '[(f["step"], f["node"], len(f["journal"])) for f in r["faults"]]')" == "[('s1@slave2', 'slave2', 1)]" ]] \
    || { fail "faults: $(report_field "$WORK/xp-held" 'r["faults"]')"; return 1; }
  report_field "$WORK/xp-held" 'r["faults"][0]["undo"][0]' | grep -Eq '^hadoop_injector recover [0-9]+ on slave2$' \
    || { fail "undo: $(report_field "$WORK/xp-held" 'r["faults"][0]["undo"]')"; return 1; }
  [[ "$(report_field "$WORK/xp-held" 'sum(1 for p in r["probes"] if p["phase"] == "during" and p["ok"])')" -ge 2 ]] \
    || { fail "too few probe runs on master during the method"; return 1; }
}

# A probe on slave2 sees its DataNode hung: the method stops at once (well
# before the fault's 60 s), the fault is undone on slave2, verdict deviated.
test_experiment_remote_abort() {
  xp_file xp-abort 60s slave2 sh -c "! ps -eo stat=,args= | grep datanode.DataNode | grep -q '^T'"
  local start=$SECONDS rc=0
  xp run --report "$WORK/xp-abort" "${XP_SSH[@]}" "$WORK/xp-abort.toml" > "$WORK/xp.out" 2>&1 || rc=$?
  [[ $rc == 1 ]] || { fail "run exited $rc, wanted 1 (deviated): $(cat "$WORK/xp.out")"; return 1; }
  (( SECONDS - start < 30 )) || { fail "the abort took $((SECONDS - start)) s"; return 1; }
  [[ "$(report_field "$WORK/xp-abort" 'r["abort"]["probe"]')" == probe ]] || { fail "no abort by the probe: $(cat "$WORK/xp.out")"; return 1; }
  [[ "$(report_field "$WORK/xp-abort" '[p["ok"] for p in r["probes"] if p["phase"] == "after"]')" == "[True]" ]] \
    || { fail "the probe on slave2 did not hold after the rollback"; return 1; }
  daemon_is slave2 dn up || { fail "slave2's DataNode still hung after the abort"; return 1; }
  no_faults || return 1
  xp_journal_empty || { fail "run journal not empty"; return 1; }
}

# kill -9 of the run while slave2's DataNode is hung: the fault stays (the
# injector's journal on slave2 holds it); recover, with no SSH options,
# reaches slave2 from the run journal and undoes it.
test_experiment_remote_kill9_recover() {
  xp_file xp-kill 60s master pgrep -f namenode.NameNode
  # Not through a function: $! must be kvmfi-experiment itself (ip netns exec and env exec it).
  ip netns exec "$CTL" env KVMFI_EXPERIMENT_DIR="$WORK/xpj" "$BIN_DIR/kvmfi-experiment" run --report "$WORK/xp-kill" \
    "${XP_SSH[@]}" "$WORK/xp-kill.toml" > "$WORK/xp.out" 2>&1 &
  local pid=$!
  wait_until 20 grep -q '"op":"applied"' "$WORK/xpj/journal.jsonl" || { fail "never applied: $(cat "$WORK/xp.out")"; return 1; }
  kill -KILL "$pid"; wait "$pid" 2>/dev/null || true
  daemon_is slave2 dn stopped || { fail "the fault was not in force after the kill"; return 1; }
  grep -q '"node":{"name":"slave2"' "$WORK/xpj/journal.jsonl" || { fail "journal lacks the node: $(cat "$WORK/xpj/journal.jsonl")"; return 1; }
  expect_rc 1 xp run --report "$WORK/xp-kill2" "${XP_SSH[@]}" "$WORK/xp-kill.toml" || return 1
  [[ "$ERR" == *"kvmfi-experiment recover"* ]] || { fail "a new run did not point at recover: $ERR"; return 1; }
  xp recover > "$WORK/out" 2>&1 || { fail "recover failed: $(cat "$WORK/out")"; return 1; }
  grep -Eq 'step s1@slave2 \(hadoop_injector\): hadoop_injector recover [0-9]+ on slave2' "$WORK/out" || { fail "recover said: $(cat "$WORK/out")"; return 1; }
  daemon_is slave2 dn up || { fail "slave2's DataNode still hung after recover"; return 1; }
  no_faults || return 1
  xp_journal_empty || { fail "run journal not empty after recover"; return 1; }
  xp recover > "$WORK/out" 2>&1 || { fail "a second recover failed: $(cat "$WORK/out")"; return 1; }
}

# Unknown nodes and roles are refused with line and field; an unreachable
# node stops the run before anything is done; an unknown host key too.
test_experiment_remote_bad_targets() {
  xp_file xp-bad 4s master true
  sed -i 's/nodes = \["slave2"\]/nodes = ["slave9"]/' "$WORK/xp-bad.toml"
  expect_rc 2 xp validate "$WORK/xp-bad.toml" || return 1
  [[ "$ERR" == *"xp-bad.toml:16: method.nodes: no node 'slave9' in $WORK/cluster.conf"* ]] || { fail "error: $ERR"; return 1; }
  sed -i 's/roles = \["DataNode"\]/roles = ["KVMHost"]/' "$WORK/xp-bad.toml"
  expect_rc 2 xp run "${XP_SSH[@]}" "$WORK/xp-bad.toml" || return 1
  [[ "$ERR" == *"xp-bad.toml:4: target.roles: no node of"*"has role KVMHost"* ]] || { fail "error: $ERR"; return 1; }
  xp_file xp-dead 4s master true
  sed -i -e "s|$WORK/cluster.conf|$WORK/cluster-dead.conf|" -e 's/nodes = \["slave2"\]/nodes = ["dropped"]/' "$WORK/xp-dead.toml"
  local start=$SECONDS
  expect_rc 5 xp run --report "$WORK/xp-dead" "${XP_SSH[@]}" "$WORK/xp-dead.toml" || return 1
  [[ "$ERR" == *"node dropped (10.77.9.50:22): connect to"*"nothing was done"* ]] || { fail "error: $ERR"; return 1; }
  (( SECONDS - start < 15 )) || { fail "unreachable node took $((SECONDS - start)) s"; return 1; }
  xp_file xp-key 4s master true
  mkdir -p "$WORK/home2/.ssh"
  expect_rc 5 in_ns "$CTL" env HOME="$WORK/home2" KVMFI_EXPERIMENT_DIR="$WORK/xpj" "$BIN_DIR/kvmfi-experiment" run --report "$WORK/xp-key" "${XP_SSH[@]}" "$WORK/xp-key.toml" || return 1
  [[ "$ERR" == *"SHA256:"* ]] || { fail "unknown host key not refused: $ERR"; return 1; }
  # slave2 halted: its injector refuses, the run stops with exit 6, nothing in force.
  node_ssh slave2 "kvmfi-halt --reason 'xp test'" >/dev/null || { fail "halting slave2 failed"; return 1; }
  xp_file xp-halted 4s master true
  expect_rc 6 xp run --report "$WORK/xp-halted" "${XP_SSH[@]}" "$WORK/xp-halted.toml" || { node_ssh slave2 "kvmfi-halt --release"; return 1; }
  node_ssh slave2 "kvmfi-halt --release" >/dev/null || { fail "releasing slave2 failed"; return 1; }
  [[ "$ERR" == *"kvmfi is halted"*"xp test"* ]] || { fail "no halt error: $ERR"; return 1; }
  xp_journal_empty || { fail "run journal not empty"; return 1; }
  no_faults
}

test_hang_every_datanode_by_role() {
  cc inject hadoop hang dn > "$WORK/out" || { fail "$(cat "$WORK/out")"; return 1; }
  local n
  for n in slave1 slave2 slave3; do daemon_is "$n" dn stopped || { fail "$n dn not stopped"; return 1; }; done
  daemon_is master nn up || { fail "master touched"; return 1; }
  cc inject hadoop resume dn > "$WORK/out" || { fail "$(cat "$WORK/out")"; return 1; }
  for n in slave1 slave2 slave3; do daemon_is "$n" dn up || { fail "$n dn not resumed"; return 1; }; done
  no_faults
}

test_partition_and_recover() {
  all_connected || return 1
  cc partition -t slave1 > "$WORK/out" || { fail "partition failed: $(cat "$WORK/out")"; return 1; }
  isolated slave1 || return 1
  tcp_open "${NS[slave2]}" "${ADDR[slave3]}" 22 || { fail "slave2-slave3 cut too"; return 1; }
  [[ "$(faults_total)" == 3 ]] || { fail "want 3 faults on slave1: $(cat "$WORK/st.json")"; return 1; }
  cc recover > "$WORK/out" || { fail "recover failed: $(cat "$WORK/out")"; return 1; }
  all_connected || return 1
  no_faults
}

test_partition_minority_json() {
  cc --json --seed 3 partition -t minority > "$WORK/out" || { fail "partition: $(cat "$WORK/out")"; return 1; }
  local cut
  cut="$(python3 -c 'import json,sys; print(" ".join(json.loads(l)["node"] for l in open(sys.argv[1])))' "$WORK/out")"
  [[ $(wc -w <<<"$cut") == 1 ]] || { fail "minority of 4 is 1 node, got '$cut'"; return 1; }
  isolated "$cut" || return 1
  cc recover >/dev/null || { fail "recover failed"; return 1; }
  all_connected || return 1
  no_faults
}

test_scenario_partition_heals_itself() {
  local start=$SECONDS
  cc --seed 5 scenario datanode-partition --duration 4s > "$WORK/out" 2>&1 &
  local pid=$! cut="" n
  sleep 2
  for n in slave1 slave2 slave3; do
    tcp_open "${NS[master]}" "${ADDR[$n]}" 22 || cut="$cut $n"
  done
  wait "$pid" || { fail "scenario exited non-zero: $(cat "$WORK/out")"; return 1; }
  [[ $(wc -w <<<"$cut") == 1 ]] || { fail "want one DataNode cut off during the scenario, got '$cut'"; return 1; }
  grep -q '^heal: ' "$WORK/out" || grep -q 'recover [0-9]' "$WORK/out" || { fail "no heal step: $(cat "$WORK/out")"; return 1; }
  all_connected || return 1
  (( SECONDS - start < 30 )) || { fail "took $((SECONDS - start))s"; return 1; }
  no_faults
}

test_scenario_rm_hang_interrupted() {
  # SIGINT while it waits: healed at once, exit 130.
  # Started directly (not through a function), so $! is the controller.
  ip netns exec "$CTL" "$CC" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" \
    scenario resourcemanager-hang --duration 120s > "$WORK/out" 2>&1 &
  local pid=$! rc=0
  wait_until 20 daemon_is master rm stopped || { kill "$pid"; fail "rm not stopped"; return 1; }
  kill -INT "$pid"
  wait "$pid" || rc=$?
  [[ $rc == 130 ]] || { fail "exit $rc, want 130: $(cat "$WORK/out")"; return 1; }
  daemon_is master rm up || { fail "rm not resumed"; return 1; }
  no_faults
}

test_scenario_namenode_crash_then_recover() {
  cc scenario namenode-crash > "$WORK/out" 2>&1 || { fail "$(cat "$WORK/out")"; return 1; }
  grep -q 'heal with: cluster_controller recover -t master' "$WORK/out" || { fail "no heal hint: $(cat "$WORK/out")"; return 1; }
  daemon_is master nn none || { fail "NameNode still runs"; return 1; }
  cc recover -t role:NameNode > "$WORK/out" || { fail "$(cat "$WORK/out")"; return 1; }
  wait_until 20 daemon_is master nn up || { fail "NameNode not restarted"; return 1; }
  no_faults
}

test_unreachable_reported_in_time() {
  local start rc=0 out
  start=$(date +%s%N)
  out="$(in_ns "$CTL" "$CC" -c "$WORK/cluster-dead.conf" -i "$WORK/id_ed25519" --connect-timeout 2s status 2>&1)" || rc=$?
  local ms=$((($(date +%s%N) - start) / 1000000))
  [[ $rc == 1 ]] || { fail "status exit $rc, want 1: $out"; return 1; }
  grep -Eq '^dropped +10.77.9.50:22 +UNREACHABLE .*no answer within 2s' <<<"$out" || { fail "dropped: $out"; return 1; }
  grep -Eq '^nosshd +10.77.9.51:22 +UNREACHABLE .*(refused|Connection)' <<<"$out" || { fail "nosshd: $out"; return 1; }
  grep -Eq '^slave3 +10.77.9.14:22 +up ' <<<"$out" || { fail "others not served: $out"; return 1; }
  ((ms < 6000)) || { fail "took ${ms} ms with a 2 s connect timeout"; return 1; }
  # recover: reaches the others, names the unreachable ones, exit 1.
  rc=0
  out="$(in_ns "$CTL" "$CC" -c "$WORK/cluster-dead.conf" -i "$WORK/id_ed25519" --connect-timeout 2s recover 2>&1)" || rc=$?
  [[ $rc == 1 ]] || { fail "recover exit $rc: $out"; return 1; }
  grep -q 'unreachable: dropped,nosshd' <<<"$out" || { fail "recover summary: $out"; return 1; }
  grep -Eq '^master 10.77.9.11:22 ok' <<<"$out" || { fail "recover did not reach master: $out"; return 1; }
}

test_command_timeout() {
  # A remote command that outlives --command-timeout is reported, not waited for.
  local rc=0 out
  out="$(in_ns "$CTL" "$CC" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" --command-timeout 1s \
        --hadoop-injector "$WORK/bin/slow" inject -t slave1 hadoop list 2>&1)" || rc=$?
  [[ $rc == 1 ]] || { fail "exit $rc: $out"; return 1; }
  grep -q 'no answer within 1s' <<<"$out" || { fail "report: $out"; return 1; }
}

test_wrong_key_refused() {
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/other_key"
  local rc=0 out
  out="$(in_ns "$CTL" "$CC" -c "$WORK/cluster.conf" -i "$WORK/other_key" status 2>&1)" || rc=$?
  [[ $rc == 1 ]] || { fail "exit $rc"; return 1; }
  grep -q 'ssh login as root@10.77.9.11:22 refused' <<<"$out" || { fail "report: $out"; return 1; }
}

test_known_hosts() {
  local n
  : > "$WORK/known_hosts"
  for n in "${NAMES[@]}"; do echo "${ADDR[$n]} $(cut -d' ' -f1,2 "$WORK/host_ed25519.pub")" >> "$WORK/known_hosts"; done
  # With an empty ~/.ssh: only the given file counts.
  cc_home "$WORK/home-none" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" --known-hosts "$WORK/known_hosts" status >/dev/null \
    || { fail "known hosts refused"; return 1; }
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/fake_host"
  echo "10.77.9.11 $(cut -d' ' -f1,2 "$WORK/fake_host.pub")" > "$WORK/known_bad"
  local out rc=0
  out="$(cc_home "$WORK/home-none" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" --known-hosts "$WORK/known_bad" status -t master 2>&1)" || rc=$?
  [[ $rc == 1 ]] || { fail "mismatch: exit $rc"; return 1; }
  grep -q 'HOST KEY CHANGED' <<<"$out" || { fail "mismatch not refused: $out"; return 1; }
}

# --- host keys, ~/.ssh/config, Ansible inventories ---------------------------

# fp PUBFILE: the SHA256 fingerprint of a public key file.
fp() { ssh-keygen -lf "$1" | awk '{ print $2 }'; }
# cc_home HOME ARGS...: the controller with another ~/.ssh (no -i: keys from there).
cc_home() { local h="$1"; shift; in_ns "$CTL" env HOME="$h" "$CC" --connect-timeout 3s "$@"; }
# sshd_pid NODE: the host pid of NODE's sshd.
sshd_pid() { pgrep -f "sshd -D -e -f $WORK/nodes/$1/sshd_config" | head -n 1; }

test_host_keys_unknown_and_accept_new() {
  local h="$WORK/home-new" rc=0 out want
  mkdir -p "$h/.ssh" && chmod 700 "$h/.ssh"
  cp "$WORK/id_ed25519" "$h/.ssh/id_ed25519"
  want="$(fp "$WORK/host_ed25519.pub")"
  # Unknown: refused, with the fingerprint and the line that adds it.
  out="$(cc_home "$h" -c "$WORK/cluster.conf" status -t master 2>&1)" || rc=$?
  [[ $rc == 1 ]] || { fail "unknown key: exit $rc: $out"; return 1; }
  grep -qF "UNKNOWN HOST KEY: 10.77.9.11 port 22 offers ssh-ed25519 $want (not in $h/.ssh/known_hosts, /etc/ssh/ssh_known_hosts)" <<<"$out" \
    || { fail "no fingerprint: $out"; return 1; }
  grep -qF "ssh-keyscan -p 22 -t ed25519 10.77.9.11 >> $h/.ssh/known_hosts" <<<"$out" || { fail "no keyscan line: $out"; return 1; }
  grep -qF "ssh-keygen -F '10.77.9.11'" <<<"$out" || { fail "no ssh-keygen -F line: $out"; return 1; }
  [[ ! -e "$h/.ssh/known_hosts" ]] || { fail "strict mode wrote known_hosts"; return 1; }
  # accept-new: recorded like OpenSSH's, and then known without the option.
  out="$(cc_home "$h" -c "$WORK/cluster.conf" --accept-new-host-keys status -t master,slave1 2>&1)" \
    || { fail "accept-new: $out"; return 1; }
  grep -qF "10.77.9.12 port 22: recorded its new host key ssh-ed25519 $want" <<<"$out" || { fail "not said: $out"; return 1; }
  [[ "$(wc -l < "$h/.ssh/known_hosts")" == 2 ]] || { fail "known_hosts: $(cat "$h/.ssh/known_hosts")"; return 1; }
  ssh-keygen -F 10.77.9.11 -f "$h/.ssh/known_hosts" | grep -qF "$(cut -d' ' -f2 "$WORK/host_ed25519.pub")" \
    || { fail "ssh-keygen -F does not find the recorded key"; return 1; }
  # OpenSSH reads the recorded file: strict ssh gets in.
  in_ns "$CTL" ssh -n -i "$WORK/id_ed25519" -o BatchMode=yes -o StrictHostKeyChecking=yes \
    -o UserKnownHostsFile="$h/.ssh/known_hosts" root@10.77.9.12 true || { fail "ssh refuses the recorded key"; return 1; }
  cc_home "$h" -c "$WORK/cluster.conf" status -t master,slave1 >/dev/null 2>&1 || { fail "recorded keys not accepted"; return 1; }
  # insecure: no check at all, said so.
  out="$(cc_home "$WORK/home-none" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" --insecure-ignore-host-keys status -t slave2 2>&1)" \
    || { fail "insecure: $out"; return 1; }
  grep -q 'warning: --insecure-ignore-host-keys' <<<"$out" || { fail "no warning: $out"; return 1; }
  [[ ! -e "$WORK/home-none/.ssh/known_hosts" ]] || { fail "insecure mode wrote known_hosts"; return 1; }
}

test_ssh_config_and_inventory() {
  # ~/.ssh/config: HostName, Port (2200: only the config says so), User and
  # IdentityFile for an inventory host that has none of them.
  local h="$WORK/home-cfg" out
  mkdir -p "$h/.ssh" && chmod 700 "$h/.ssh"
  cat > "$h/.ssh/config" <<CFG
Host fleet-*
  User root
  IdentityFile $WORK/id_ed25519
Host fleet-master
  HostName 10.77.9.11
  Port 2200
CFG
  printf 'all:\n  children:\n    namenode:\n      hosts:\n        fleet-master:\n' > "$WORK/inv-cfg.yml"
  out="$(cc_home "$h" -c "$WORK/inv-cfg.yml" --accept-new-host-keys status 2>&1)" || { fail "config: $out"; return 1; }
  grep -Eq '^fleet-master +fleet-master:22 +up ' <<<"$out" || { fail "status: $out"; return 1; }
  grep -qF '[10.77.9.11]:2200 ssh-ed25519 ' "$h/.ssh/known_hosts" || { fail "not port 2200 of HostName: $(cat "$h/.ssh/known_hosts")"; return 1; }
  grep -q 'Accepted publickey for root from 10.77.9.1 port [0-9]* ssh2' "$WORK/nodes/master/sshd.log" || { fail "no login in sshd's log"; return 1; }
}

# set_slave3_key PRIVATE: slave3's sshd serves that key (sshd re-executes on SIGHUP).
set_slave3_key() {
  local d="$WORK/nodes/slave3"
  cp "$1" "$d/host_ed25519"; cp "$1.pub" "$d/host_ed25519.pub"
  kill -HUP "$(sshd_pid slave3)"
  sleep 0.5
  wait_until 10 tcp_open "$CTL" 10.77.9.14 22
}

test_host_key_changed_refused() {
  local rc=0
  changed_key_checks || rc=1
  # The node's real key again, whatever happened.
  set_slave3_key "$WORK/host_ed25519" || { fail "slave3's sshd not back"; return 1; }
  wait_until 10 cc status -t slave3 >/dev/null 2>&1 || { fail "slave3 not reachable with its old key"; return 1; }
  return "$rc"
}

changed_key_checks() {
  local rc=0 out new mode
  rm -f "$WORK/slave3_new" "$WORK/slave3_new.pub"
  ssh-keygen -q -t ed25519 -N '' -f "$WORK/slave3_new" -C changed
  new="$(fp "$WORK/slave3_new.pub")"
  set_slave3_key "$WORK/slave3_new" || { fail "slave3's sshd not back"; return 1; }
  for mode in "" --accept-new-host-keys; do
    rc=0
    # shellcheck disable=SC2086 # mode is one word or none
    out="$(cc $mode status -t slave3,slave2 2>&1)" || rc=$?
    [[ $rc == 1 ]] || { fail "changed key ($mode): exit $rc: $out"; return 1; }
    grep -qF "HOST KEY CHANGED: 10.77.9.14 port 22 now offers ssh-ed25519 $new, but $WORK/home/.ssh/known_hosts records another key" <<<"$out" \
      || { fail "not refused loudly ($mode): $out"; return 1; }
    grep -q 'WARNING: HOST KEY CHANGED' <<<"$out" || { fail "no warning ($mode)"; return 1; }
    grep -Eq '^slave2 +10.77.9.13:22 +up ' <<<"$out" || { fail "slave2 not served ($mode): $out"; return 1; }
  done
  [[ "$(grep -c '^10.77.9.14 ' "$WORK/home/.ssh/known_hosts")" == 1 ]] || { fail "accept-new recorded a changed key"; return 1; }
  # cluster_manage.sh: refused too, with OpenSSH's warning and the new fingerprint.
  for mode in "" --accept-new-host-keys; do
    rc=0
    # shellcheck disable=SC2086
    out="$(cm $mode inject-hang 10.77.9.14 dn 2>&1)" || rc=$?
    [[ $rc != 0 ]] || { fail "cluster_manage.sh ($mode) accepted a changed key"; return 1; }
    grep -q 'REMOTE HOST IDENTIFICATION HAS CHANGED' <<<"$out" || { fail "no ssh warning ($mode): $out"; return 1; }
    grep -F "slave3 (10.77.9.14:22): HOST KEY CHANGED (now " <<<"$out" | grep -qF "$new (ED25519)" || { fail "no hint ($mode): $out"; return 1; }
  done
  # Nothing ran on slave3 (its DataNode is checked once the old key is back).
  ! grep -q 'hang' "$WORK/nodes/slave3/journal/journal.jsonl" 2>/dev/null || { fail "a fault reached slave3"; return 1; }
}

test_manage_host_keys() {
  local h="$WORK/home-cm" rc=0 out want
  mkdir -p "$h/.ssh" && chmod 700 "$h/.ssh"
  want="$(fp "$WORK/host_ed25519.pub")"
  rc=0
  out="$(HOME="$h" cm inject-hang 10.77.9.13 dn 2>&1)" || rc=$?
  [[ $rc != 0 ]] || { fail "unknown key accepted"; return 1; }
  grep -F "slave2 (10.77.9.13:22): UNKNOWN HOST KEY " <<<"$out" | grep -F "$want (ED25519)" \
    | grep -qF "refused. If that is the node's key: ssh-keyscan -p 22 10.77.9.13 >> $h/.ssh/known_hosts (check: ssh-keygen -F '10.77.9.13'" \
    || { fail "no fingerprint/hint: $out"; return 1; }
  daemon_is slave2 dn up || { fail "slave2's DataNode was touched"; return 1; }
  # Two nodes are enough for the rest (each status is an ssh per node).
  grep -E '^(master|slave1),' "$WORK/cluster.conf" > "$WORK/cluster-2.conf"
  out="$(HOME="$h" cm -c "$WORK/cluster-2.conf" --accept-new-host-keys status 2>&1)" || { fail "accept-new: $out"; return 1; }
  [[ "$(grep -c . "$h/.ssh/known_hosts")" == 2 ]] || { fail "known_hosts: $(cat "$h/.ssh/known_hosts")"; return 1; }
  HOME="$h" cm -c "$WORK/cluster-2.conf" status >/dev/null 2>&1 || { fail "recorded keys refused"; return 1; }
  # A cluster file's known_hosts = PATH, relative to the file.
  { echo "known_hosts = kh-conf"; cat "$WORK/cluster-2.conf"; } > "$WORK/cluster-kh.conf"
  cp "$h/.ssh/known_hosts" "$WORK/kh-conf"
  HOME="$WORK/home-none" cm -c "$WORK/cluster-kh.conf" status >/dev/null 2>&1 || { fail "cluster_manage.sh ignores known_hosts ="; return 1; }
  cc_home "$WORK/home-none" -i "$WORK/id_ed25519" -c "$WORK/cluster-kh.conf" status >/dev/null 2>&1 \
    || { fail "cluster_controller ignores known_hosts ="; return 1; }
  out="$(HOME="$WORK/home-none" cm -c "$WORK/cluster-2.conf" --insecure-ignore-host-keys status 2>&1)" || { fail "insecure: $out"; return 1; }
  grep -q 'warning: --insecure-ignore-host-keys' <<<"$out" || { fail "no warning: $out"; return 1; }
}

# inv_hosts ansible|kvmfi FILE: "name address port user roles" per host,
# sorted, as ansible-inventory or cluster_controller reads FILE.
inv_hosts() {
  if [[ $1 == ansible ]]; then
    ANSIBLE_LOCAL_TEMP="$WORK/ansible-tmp" ANSIBLE_HOME="$WORK/ansible" ansible-inventory -i "$2" --list 2>"$WORK/ai.err" \
      | python3 "$WORK/inv.py" ansible
  else
    in_ns "$CTL" "$CC" -c "$2" --json nodes | python3 "$WORK/inv.py" kvmfi
  fi
}

write_inv_py() {
  cat > "$WORK/inv.py" <<'PY'
import json, sys
ROLES = {"namenode": "NameNode", "datanode": "DataNode", "data_node": "DataNode", "resourcemanager": "ResourceManager"}
rows = []
if sys.argv[1] == "ansible":
    inv = json.load(sys.stdin)
    hostvars = inv.get("_meta", {}).get("hostvars", {})
    def members(g):
        d = inv.get(g, {})
        out = set(d.get("hosts", []))
        for c in d.get("children", []):
            out |= members(c)
        return out
    for h in hostvars:
        roles = sorted({ROLES[g.lower()] for g in inv if g.lower() in ROLES and h in members(g)})
        v = hostvars[h]
        rows.append((h, v.get("ansible_host", h), v.get("ansible_port", 22), v.get("ansible_user", "-"), roles))
else:
    for line in sys.stdin:
        n = json.loads(line)
        rows.append((n["name"], n["address"], n["port"], n.get("user", "-"), sorted(n["roles"])))
for name, addr, port, user, roles in sorted(rows):
    print(name, addr, port, user, ",".join(roles))
PY
}

test_ansible_inventories() {
  command -v ansible-inventory >/dev/null || { fail "ansible-inventory missing (apt-get install ansible-core)"; return 1; }
  write_inv_py
  cat > "$WORK/inv.ini" <<'INV'
# the test cluster as operators keep it
[namenode]
master ansible_host=10.77.9.11
[resourcemanager]
master
[data_node]
slave1 ansible_host=10.77.9.12
slave2 ansible_host=10.77.9.13
slave3 ansible_host=10.77.9.14 ansible_port=22
[hadoop:children]
namenode
data_node
[hadoop:vars]
ansible_user=root
INV
  cat > "$WORK/inv.yml" <<'INV'
---
all:
  children:
    hadoop:
      vars:
        ansible_user: root
      children:
        namenode:
          hosts:
            master:
              ansible_host: 10.77.9.11
        data_node:
          hosts:
            slave1:
              ansible_host: 10.77.9.12
            slave2:
              ansible_host: "10.77.9.13"
            slave3:
              ansible_host: 10.77.9.14
              ansible_port: 22
    resourcemanager:
      hosts:
        master:
INV
  local f a k
  for f in inv.ini inv.yml; do
    a="$(inv_hosts ansible "$WORK/$f")" || { fail "ansible-inventory $f: $(cat "$WORK/ai.err")"; return 1; }
    k="$(inv_hosts kvmfi "$WORK/$f")" || { fail "cluster_controller $f"; return 1; }
    [[ "$(wc -l <<<"$a")" == 4 && "$a" == "$k" ]] || { fail "$f: ansible-inventory says"$'\n'"$a"$'\n'"cluster_controller says"$'\n'"$k"; return 1; }
  done
  # Both tools work over them.
  in_ns "$CTL" "$CC" -c "$WORK/inv.ini" -i "$WORK/id_ed25519" status -t role:DataNode >/dev/null || { fail "status over the INI inventory"; return 1; }
  cm -c "$WORK/inv.yml" status > "$WORK/out" 2>&1 || true
  grep -Eq '^master +10.77.9.11:22 +up +NameNode,ResourceManager ' "$WORK/out" \
    || { fail "cluster_manage.sh over the YAML inventory: $(tr '\n' '|' < "$WORK/out")"; return 1; }
  # The other way: the cluster file exported, read by ansible-inventory.
  cc nodes --export ansible > "$WORK/exp.ini" || { fail "export ansible"; return 1; }
  cc nodes --export ansible-yaml > "$WORK/exp.yml" || { fail "export ansible-yaml"; return 1; }
  k="$(inv_hosts kvmfi "$WORK/cluster.conf")"
  for f in exp.ini exp.yml; do
    a="$(inv_hosts ansible "$WORK/$f")" || { fail "ansible-inventory $f: $(cat "$WORK/ai.err")"; return 1; }
    [[ "$(wc -l <<<"$a")" == 4 && "$a" == "$k" ]] || { fail "$f: ansible-inventory says"$'\n'"$a"$'\n'"cluster.conf says"$'\n'"$k"; return 1; }
  done
}

# --- boot-time recovery -----------------------------------------------------

BOOTNS="kvmfi-boot-$$"
BOOT_DB_PID=""
boot_db() { mariadb --socket="$WORK/boot/run/db.sock" --batch --skip-column-names -e "$1"; }
boot_db_up() { boot_db "SELECT 1" >/dev/null 2>&1; }
start_boot_db() {
  mkdir -p "$WORK/boot/run" && chown mysql:mysql "$WORK/boot/run"
  ip netns exec "$BOOTNS" mariadbd --no-defaults --user=mysql --datadir="$WORK/boot/db" --socket="$WORK/boot/run/db.sock" \
    --pid-file="$WORK/boot/run/db.pid" --bind-address=127.0.0.1 --port=13307 --skip-name-resolve \
    >>"$WORK/logs/boot-mariadbd.log" 2>&1 &
  BOOT_DB_PID=$!
}
stop_boot_db() { kill "$BOOT_DB_PID" 2>/dev/null || true; wait "$BOOT_DB_PID" 2>/dev/null || true; }
# boot_inj TOOL ARGS...: an injector on the "booting" host (its namespace and journal).
boot_inj() { local t="$1"; shift; ip netns exec "$BOOTNS" env KVMFI_STATE_DIR="$WORK/boot/journal" "$BIN_DIR/$t" "$@"; }
user_limit() { boot_db "SELECT max_user_connections FROM mysql.user WHERE User='cloud' AND Host='127.0.0.1'"; }

test_boot_recovery_after_reboot() {
  command -v mariadbd >/dev/null || { fail "mariadbd missing (tests/userspace/setup.sh installs mariadb-server)"; return 1; }
  local b="$WORK/boot" unit="$WORK/boot/kvmfi-recover.service" line rc=0 t0 secs
  chmod 755 "$WORK"
  mkdir -p "$b/data" "$b/man/man8"
  # The unit as make install writes it, here with the binaries under test.
  sed "s|@BINDIR@|$BIN_DIR|g" "$ROOT/packaging/systemd/kvmfi-recover.service.in" > "$unit"
  if command -v systemd-analyze >/dev/null; then
    cp "$ROOT/man/cluster_controller.8" "$b/man/man8/"
    MANPATH="$b/man" systemd-analyze verify "$unit" > "$WORK/logs/verify.log" 2>&1 || { fail "systemd-analyze verify: $(cat "$WORK/logs/verify.log")"; return 1; }
  fi
  line="$(sed -n 's/^ExecStart=//p' "$unit")"
  local cmd
  read -r -a cmd <<<"$line"
  ip netns add "$BOOTNS"
  ip -n "$BOOTNS" link set lo up
  mariadb-install-db --user=mysql --datadir="$b/db" --auth-root-authentication-method=socket >"$WORK/logs/boot-install-db.log" 2>&1
  start_boot_db
  wait_until 30 boot_db_up || { fail "MariaDB not up"; return 1; }
  boot_db "CREATE USER 'cloud'@'127.0.0.1' IDENTIFIED BY 'pw' WITH MAX_USER_CONNECTIONS 7"
  printf 'healthy\n' > "$b/nm-health"
  # Every persistent fault, and a firewall fault that a reboot clears.
  boot_inj cloudstack_injector db-limit --user-connections 1 --db-socket "$b/run/db.sock" >/dev/null || { fail "db-limit"; return 1; }
  boot_inj hadoop_injector yarn-health fail --marker "$b/nm-health" >/dev/null || { fail "yarn-health fail"; return 1; }
  boot_inj hadoop_injector disk-fill-local 8 --dir "$b/data" --keep-free 16 >/dev/null || { fail "disk-fill-local"; return 1; }
  boot_inj hadoop_injector network 10.99.0.1 >/dev/null || { fail "network"; return 1; }
  [[ "$(user_limit)" == 1 && "$(cat "$b/nm-health")" == ERROR && -n "$(ls "$b/data")" ]] \
    || { fail "faults not in force: limit $(user_limit), marker $(cat "$b/nm-health"), $(ls "$b/data")"; return 1; }
  # The reboot: daemons stop, /run and the firewall are cleared; the journal,
  # the database files, the marker and the fill file stay.
  stop_boot_db
  ip netns exec "$BOOTNS" nft flush ruleset
  rm -rf "${b:?}/run"
  # The unit's command with the database still starting: it waits for it.
  t0=$SECONDS
  (sleep 2; start_boot_db; wait "$BOOT_DB_PID") &
  local starter=$!
  ip netns exec "$BOOTNS" env KVMFI_STATE_DIR="$b/journal" "${cmd[@]}" > "$WORK/logs/boot-recover.log" 2>&1 || rc=$?
  secs=$((SECONDS - t0))
  BOOT_DB_PID="$(cat "$b/run/db.pid" 2>/dev/null || true)"
  cat "$WORK/logs/boot-recover.log"
  [[ $rc == 0 ]] || { fail "boot recovery exit $rc: $(tail -n 3 "$WORK/logs/boot-recover.log")"; return 1; }
  grep -q 'kvmfi-recover: 4 fault(s) left in force' "$WORK/logs/boot-recover.log" || { fail "faults not listed"; return 1; }
  grep -q 'needs the database: waiting for it to answer' "$WORK/logs/boot-recover.log" || { fail "did not wait for the database"; return 1; }
  grep -q 'every fault undone' "$WORK/logs/boot-recover.log" || { fail "no summary"; return 1; }
  [[ "$(grep -c 'undone' "$WORK/logs/boot-recover.log")" -ge 4 ]] || { fail "undone faults not logged"; return 1; }
  # The original state.
  [[ "$(user_limit)" == 7 ]] || { fail "MAX_USER_CONNECTIONS $(user_limit), want 7"; return 1; }
  [[ "$(cat "$b/nm-health")" == healthy ]] || { fail "marker: $(cat "$b/nm-health")"; return 1; }
  [[ -z "$(ls "$b/data")" ]] || { fail "fill file left: $(ls "$b/data")"; return 1; }
  [[ -z "$(boot_inj hadoop_injector status --all)" ]] || { fail "journal not empty"; return 1; }
  echo "boot recovery took ${secs}s (the database came 2 s late)"
  # Bounded: with the database gone for good it gives up after --wait, naming the fault.
  boot_inj cloudstack_injector db-limit --user-connections 2 --db-socket "$b/run/db.sock" >/dev/null || { fail "db-limit 2"; return 1; }
  kill "$(cat "$b/run/db.pid")"; wait_until 20 bash -c "! [ -e '$b/run/db.sock' ]" || true
  rc=0; t0=$SECONDS
  ip netns exec "$BOOTNS" env KVMFI_STATE_DIR="$b/journal" "$BIN_DIR/cluster_controller" node-local boot-recover --wait 2s \
    > "$WORK/logs/boot-recover2.log" 2>&1 || rc=$?
  secs=$((SECONDS - t0))
  [[ $rc != 0 ]] || { fail "gave no error without the database"; return 1; }
  ((secs < 15)) || { fail "took ${secs}s with --wait 2s"; return 1; }
  grep -q 'still in force after 2 s: fault [0-9]* (cloudstack_injector db-limit' "$WORK/logs/boot-recover2.log" \
    || { fail "no error naming the fault: $(tail -n 2 "$WORK/logs/boot-recover2.log")"; return 1; }
  wait "$starter" 2>/dev/null || true
  start_boot_db; wait_until 30 boot_db_up || { fail "MariaDB not up again"; return 1; }
  ip netns exec "$BOOTNS" env KVMFI_STATE_DIR="$b/journal" "${cmd[@]}" >/dev/null 2>&1 || { fail "second recovery failed"; return 1; }
  [[ "$(user_limit)" == 7 ]] || { fail "MAX_USER_CONNECTIONS $(user_limit) after the second recovery"; return 1; }
  stop_boot_db
}

# menu: keys into a real terminal (tmux), screen read back.
screen() { tmux -L "$TMUX_SOCK" capture-pane -p -J -S -300 -t cc; }
keys() { tmux -L "$TMUX_SOCK" send-keys -t cc "$@"; }
# see TEXT: waits until the screen shows TEXT.
screen_has() { screen | grep -qF -- "$1"; }
see() { wait_until 30 screen_has "$1" || { screen | tail -n 25 >&2; fail "menu never showed '$1'"; return 1; }; }
see_count() { local t="$1" want="$2"; [[ $(screen | grep -cF -- "$t") -ge $want ]]; }

test_menu_in_terminal() {
  tmux -L "$TMUX_SOCK" new-session -d -s cc -x 220 -y 60 \
    "ip netns exec $CTL $CC -c $WORK/cluster.conf -i $WORK/id_ed25519 --connect-timeout 3s; echo MENU-EXITED \$?; sleep 30"
  see "[7] Load cluster configuration" || return 1
  see "Choice: " || return 1
  keys 9 Enter; see "'9' is not a choice" || return 1
  # [5] status: every node up.
  keys 5 Enter
  see "Done: 4 node(s), all ok." || return 1
  local n
  for n in "${NAMES[@]}"; do screen | grep -Eq "^$n +${ADDR[$n]}:22 +up " || { fail "menu status lacks $n"; return 1; }; done
  # [2] Hadoop, [2] crash a DataNode, on slave3 only.
  keys 2 Enter; see "--- Hadoop fault injection ---" || return 1
  keys 2 Enter; see "on which nodes?" || return 1
  keys nosuch Enter; see "no node named 'nosuch'" || return 1
  keys slave3 Enter; see "Done: 1 node(s), all ok." || return 1
  daemon_is slave3 dn none || { fail "slave3 dn still runs"; return 1; }
  # Ctrl-C in the submenu goes back to the main menu.
  keys C-c; wait_until 10 see_count "=== Cluster fault injection ===" 2 || { fail "Ctrl-C did not go back"; return 1; }
  # [6] recover everything.
  keys 6 Enter; wait_until 30 see_count "all ok." 3 || { fail "recover not done"; return 1; }
  wait_until 20 daemon_is slave3 dn up || { fail "slave3 dn not back"; return 1; }
  # [4] scenarios: resourcemanager-hang healed after Enter.
  keys 4 Enter; see "--- Preset fault scenarios ---" || return 1
  keys 6 Enter; see "Heal after how long?" || return 1
  keys Enter; see "Press Enter to start (resourcemanager-hang)" || return 1
  keys Enter; see "Press Enter to heal it" || return 1
  daemon_is master rm stopped || { fail "rm not stopped by the scenario"; return 1; }
  keys Enter; wait_until 30 daemon_is master rm up || { fail "rm not healed"; return 1; }
  keys 0 Enter
  # [7] load: a bad file keeps the old nodes.
  keys 7 Enter; see "Cluster file [Enter = cluster.conf]:" || return 1
  keys "$WORK/bad.conf" Enter; see "Not loaded (the previous nodes stay)" || return 1
  keys q Enter; see "MENU-EXITED 0" || return 1
  no_faults
}

# node_ssh NODE CMD: a shell command on NODE over ssh (inside its namespaces).
node_ssh() {
  in_ns "$CTL" ssh -n -i "$WORK/id_ed25519" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
    -o LogLevel=ERROR -o BatchMode=yes "root@${ADDR[$1]}" "$2"
}
qemu_state() { node_ssh slave3 "ps -eo stat=,comm= | awk '\$2 == \"qemu-system-x86\" { print substr(\$1, 1, 1) }'" 2>/dev/null || true; }
qemu_is() { [[ "$(qemu_state)" == "$1" ]]; }

test_vm_faults_on_kvm_hosts() {
  # slave3 is a KVM host here; its "VM" is a copy of sleep named like QEMU.
  sed 's/^slave3,\(.*\),DataNode$/slave3,\1,DataNode,KVMHost/' "$WORK/cluster.conf" > "$WORK/cluster-kvm.conf"
  cp "$(command -v sleep)" "$WORK/bin/qemu-system-x86_64"
  # setsid -f: the VM must not hold the ssh session open.
  node_ssh slave3 "cd / && setsid -f qemu-system-x86_64 100000 </dev/null >/dev/null 2>&1" || { fail "cannot start the fake VM"; return 1; }
  wait_until 10 qemu_is S || { fail "fake VM not running"; return 1; }
  local c=(in_ns "$CTL" "$CC" -c "$WORK/cluster-kvm.conf" -i "$WORK/id_ed25519" --kvm-ioctl-fi /nonexistent/kvm-ioctl-fi)
  "${c[@]}" inject vm hang > "$WORK/out" || { fail "vm hang: $(cat "$WORK/out")"; return 1; }
  grep -q '^slave3 ' "$WORK/out" || { fail "KVM host not reached: $(cat "$WORK/out")"; return 1; }
  if grep -q '^slave1 ' "$WORK/out"; then fail "not only the KVM host: $(cat "$WORK/out")"; return 1; fi
  qemu_is T || { fail "VM not frozen: '$(qemu_state)'"; return 1; }
  "${c[@]}" inject vm resume >/dev/null || { fail "vm resume failed"; return 1; }
  qemu_is S || { fail "VM not resumed"; return 1; }
  "${c[@]}" inject vm crash >/dev/null || { fail "vm crash failed"; return 1; }
  qemu_is "" || { fail "VM still runs"; return 1; }
  "${c[@]}" recover > "$WORK/out" || { fail "recover: $(cat "$WORK/out")"; return 1; }
  grep -q 'kvm-ioctl off: note: /nonexistent/kvm-ioctl-fi is not installed on this node; skipped' "$WORK/out" \
    || { fail "kvm-ioctl off not skipped: $(cat "$WORK/out")"; return 1; }
  wait_until 10 qemu_is S || { fail "VM not restarted by recover"; return 1; }
  # The ioctl-denial scenario on a host without kvm-ioctl-fi: skipped, said so.
  "${c[@]}" scenario kvm-ioctl-deny --duration 1s > "$WORK/out" 2>&1 || { fail "scenario: $(cat "$WORK/out")"; return 1; }
  grep -q 'not installed on this node; skipped' "$WORK/out" || { fail "no skip note: $(cat "$WORK/out")"; return 1; }
  node_ssh slave3 "pkill -x qemu-system-x86" || true
  no_faults
}

stressed_nodes() {
  local n count=0
  for n in slave1 slave2 slave3; do
    # [g]: the shell running pgrep must not match itself.
    node_ssh "$n" "pgrep -f -- '--kvmfi-ta[g]'" >/dev/null 2>&1 && count=$((count + 1))
  done
  echo "$count"
}

all_three_stressed() { [[ "$(stressed_nodes)" == 3 ]]; }

test_scenario_cpu_stress() {
  # Every DataNode gets a CPU stressor (bounded to 60 s by the
  # duration); Ctrl-C heals at once and the heal ends them.
  ip netns exec "$CTL" "$CC" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" \
    scenario cpu-stress --duration 60s > "$WORK/out" 2>&1 &
  local pid=$! rc=0
  # A function, so that every try counts again ("test $(stressed_nodes)"
  # counted once, before the controller had reached the nodes).
  wait_until 30 all_three_stressed || { kill -INT "$pid"; wait "$pid"; fail "stressors on $(stressed_nodes) of the 3 DataNodes: $(cat "$WORK/out")"; return 1; }
  kill -INT "$pid"
  wait "$pid" || rc=$?
  [[ $rc == 130 ]] || { fail "exit $rc: $(cat "$WORK/out")"; return 1; }
  [[ "$(stressed_nodes)" == 0 ]] || { fail "stressors left after the heal"; return 1; }
  no_faults
}

# --- cluster_manage.sh -----------------------------------------------------

# cm ARGS...: cluster_manage.sh from the controller's namespace.
cm() {
  in_ns "$CTL" env HADOOP_HOME="$WORK/hadoop" SSH_CONNECT_TIMEOUT=3 LOCAL_CLUSTER_CONTROLLER="$CC" \
    "$ROOT/cluster_manage.sh" -c "$WORK/cluster.conf" -i "$WORK/id_ed25519" "$@"
}

# A stand-in Hadoop installation: sbin/*.sh record their calls; bin/hdfs
# keeps "HDFS" in a directory (dfs -mkdir -p, -put -f -, -cat, -rm -r -f).
fake_hadoop() {
  local h="$WORK/hadoop" s
  mkdir -p "$h/sbin" "$h/bin" "$WORK/fakehdfs"
  for s in start-dfs start-yarn stop-dfs stop-yarn; do
    cat > "$h/sbin/$s.sh" <<SCRIPT
#!/bin/sh
# Records which node ran it (by its address).
echo "$s \$(ip -o -4 addr show dev eth0 | awk '{print \$4}')" >> $WORK/calls.log
SCRIPT
  done
  cat > "$h/bin/hdfs" <<HDFS
#!/bin/bash
set -e
root=$WORK/fakehdfs
[[ \$1 == dfs ]] || exit 2
shift
case \$1 in
  -mkdir) mkdir -p "\$root/\$3" ;;
  -put) cat > "\$root/\$4" ;;
  -cat) if [[ -e \$root/BROKEN ]]; then echo garbage; else cat "\$root/\$2"; fi ;;
  -rm) rm -rf "\${root:?}/\$4" ;;
  *) exit 2 ;;
esac
HDFS
  chmod +x "$h"/sbin/*.sh "$h/bin/hdfs"
}

test_manage_usage_and_conf() {
  printf 'a,10.77.9.11,22,NameNode\nb,10.77.9.12,22\n' > "$WORK/bad.conf"
  expect_rc 2 "$ROOT/cluster_manage.sh" bogus || return 1
  [[ "$ERR" == *"unknown command 'bogus'"* ]] || { fail "$ERR"; return 1; }
  expect_rc 2 "$ROOT/cluster_manage.sh" -c "$WORK/bad.conf" status || return 1
  [[ "$ERR" == *"bad.conf: line 2: "* ]] || { fail "$ERR"; return 1; }
  expect_rc 2 cm inject-crash 10.77.9.99 dn || return 1
  [[ "$ERR" == *"no node of the cluster file has address 10.77.9.99"* ]] || { fail "$ERR"; return 1; }
  expect_rc 2 cm inject-hang 10.77.9.12 bogus || return 1
  "$ROOT/cluster_manage.sh" help 2>&1 | grep -q 'inject-network IP' || { fail "no usage text"; return 1; }
}

test_manage_status() {
  local out
  out="$(cm status)" || { fail "status failed: $out"; return 1; }
  grep -Eq '^master +10.77.9.11:22 +up +NameNode,ResourceManager +nn:[0-9]+\(sleeping\) rm:' <<<"$out" \
    || { fail "status: $out"; return 1; }
  grep -Eq '^slave3 +10.77.9.14:22 +up +DataNode +dn:' <<<"$out" || { fail "status: $out"; return 1; }
}

test_manage_network() {
  cm inject-network 10.77.9.12 >/dev/null || { fail "inject-network failed"; return 1; }
  isolated slave1 || return 1
  cm clear-network 10.77.9.12 >/dev/null || { fail "clear-network IP failed"; return 1; }
  all_connected || return 1
  no_faults || return 1
  cm inject-network 10.77.9.13 >/dev/null || { fail "inject-network failed"; return 1; }
  isolated slave2 || return 1
  cm clear-network >/dev/null || { fail "clear-network failed"; return 1; }
  all_connected || return 1
  no_faults
}

test_manage_crash_hang_resume() {
  cm inject-hang 10.77.9.14 DataNode >/dev/null || { fail "inject-hang failed"; return 1; }
  daemon_is slave3 dn stopped || { fail "slave3 dn not stopped"; return 1; }
  cm resume 10.77.9.14 dn >/dev/null || { fail "resume failed"; return 1; }
  daemon_is slave3 dn up || { fail "slave3 dn not resumed"; return 1; }
  cm inject-crash 10.77.9.13 dn >/dev/null || { fail "inject-crash failed"; return 1; }
  daemon_is slave2 dn none || { fail "slave2 dn still runs"; return 1; }
  cc recover >/dev/null || { fail "recover failed"; return 1; }
  wait_until 20 daemon_is slave2 dn up || { fail "slave2 dn not back"; return 1; }
  no_faults
}

test_manage_start_stop_test() {
  fake_hadoop
  rm -f "$WORK/calls.log"
  cm restart >/dev/null || { fail "restart failed"; return 1; }
  local want=$'stop-yarn 10.77.9.11/24\nstop-dfs 10.77.9.11/24\nstart-dfs 10.77.9.11/24\nstart-yarn 10.77.9.11/24'
  [[ "$(cat "$WORK/calls.log")" == "$want" ]] || { fail "calls: $(cat "$WORK/calls.log")"; return 1; }
  cm test | grep -q 'HDFS test passed on master' || { fail "test did not pass"; return 1; }
  [[ -z "$(find "$WORK/fakehdfs" -type f)" ]] || { fail "test left files: $(find "$WORK/fakehdfs" -type f)"; return 1; }
  touch "$WORK/fakehdfs/BROKEN"
  expect_rc 1 cm test || return 1
  [[ "$ERR" == *"HDFS test FAILED on master"* ]] || { fail "$ERR"; return 1; }
  rm -f "$WORK/fakehdfs/BROKEN"
}

test_manage_delay() {
  # netem: the build machine's kernel has no sch_netem, the VM guest has.
  local rc=0 out
  out="$(cm inject-delay 100ms 2>&1)" || rc=$?
  if ((rc == 0)); then
    cm clear-delay >/dev/null || { fail "clear-delay failed"; return 1; }
  else
    grep -q 'master (10.77.9.11): FAILED' <<<"$out" || { fail "no per-node report: $out"; return 1; }
    grep -qi 'qdisc\|netem' <<<"$out" || { fail "no reason: $out"; return 1; }
  fi
  expect_rc 2 cm inject-delay 100s || return 1
  no_faults
}

main() {
  setup_cluster
  printf '#!/bin/sh\nsleep 5\n' > "$WORK/bin/slow"; chmod +x "$WORK/bin/slow"
  local t
  for t in nodes_and_bad_conf status_every_node inject_crash_by_name_and_recover hang_every_datanode_by_role \
           partition_and_recover partition_minority_json scenario_partition_heals_itself \
           scenario_rm_hang_interrupted scenario_namenode_crash_then_recover unreachable_reported_in_time \
           command_timeout wrong_key_refused known_hosts host_keys_unknown_and_accept_new ssh_config_and_inventory \
           host_key_changed_refused ansible_inventories boot_recovery_after_reboot menu_in_terminal vm_faults_on_kvm_hosts scenario_cpu_stress \
           manage_usage_and_conf manage_status manage_network manage_crash_hang_resume manage_start_stop_test \
           manage_delay manage_host_keys halt_cluster experiment_remote_fault_rolled_back experiment_remote_abort \
           experiment_remote_kill9_recover experiment_remote_bad_targets; do
    if [[ -n "${CLUSTER_TESTS:-}" && " $CLUSTER_TESTS " != *" $t "* ]]; then continue; fi
    run_test "$t"
  done
}

main "$@"
