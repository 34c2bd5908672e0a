#!/usr/bin/env bash
# The kvmfi-experiment and kvmfi-halt suite. Runs inside its own pid,
# network and mount namespaces (run.sh starts it with unshare). Real
# MariaDB and a real HDFS (NameNode and two DataNodes) run the examples of
# examples/experiments/; nftables rules, SIGSTOP and stress helpers are the
# faults of the halt, signal and crash-safety tests. The report page is
# opened in headless Chromium when it is installed (setup.sh installs it).
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-experiment.XXXXXX)"
export WORK
SUITE=experiment
mkdir -p "$WORK/logs" "$WORK/bin" "$WORK/conf" "$WORK/confb" "$WORK/classes"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
export KVMFI_STATE_DIR="$WORK/journal" KVMFI_EXPERIMENT_DIR="$WORK/experiment" KVMFI_HALT_FILE="$WORK/halt"
export PATH="$WORK/bin:$PATH"
EX="$BIN_DIR/kvmfi-experiment"
HALT="$BIN_DIR/kvmfi-halt"
HI="$BIN_DIR/hadoop_injector"
CI_="$BIN_DIR/cloudstack_injector"
EXAMPLES="$ROOT/examples/experiments"
SOCK="$WORK/run/mysqld.sock"
RUN="$WORK/run"
# Where the timeline picture for the README goes.
PICTURE="${EXPERIMENT_PICTURE:-$CACHE/logs/experiment-timeline.png}"

cleanup() {
  jobs -p | xargs -r kill -9 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

ip link set lo up
chmod 755 "$WORK"

usage() {
  echo "usage: $0   (run by tests/userspace/run.sh experiment, inside unshare)" >&2
}

# --- helpers -----------------------------------------------------------------

db() { mariadb --socket="$SOCK" --batch --skip-column-names -e "$1"; }
db_up() { db "SELECT 1"; }
limits() { db "SELECT @@GLOBAL.max_connections; SELECT CONCAT(Host,'=',max_user_connections) FROM mysql.user WHERE User='cloud' ORDER BY Host" | tr '\n' ' '; }
mysqld_pid() { cat "$RUN/db.pid"; }
nft_clean() { ! nft list ruleset 2>/dev/null | grep -q kvmfi; }
no_stress() { ! pgrep -f -- '--kvmfi-tag=' >/dev/null; }
# exp_journal_empty: kvmfi-experiment's own journal holds nothing in force.
exp_journal_empty() { [[ ! -s "$KVMFI_EXPERIMENT_DIR/journal.jsonl" ]]; }
# json FILE EXPR: a Python expression over the report `r`.
json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"; }
cloud_busy() { (($(db "SELECT COUNT(*) FROM information_schema.processlist WHERE User='cloud'") >= 1)); }
applied() { "$HI" status --all | grep -q isolate; }
stressed() { "$HI" status --all | grep -q mem-stress; }
live2() { grep -q "Live datanodes (2)" <<<"$(hdfs dfsadmin -report 2>/dev/null)"; }
# nothing_in_force: every journal empty, no rule, no helper, mysqld running.
nothing_in_force() {
  journal_empty || return 1
  exp_journal_empty || { fail "experiment journal not empty: $(cat "$KVMFI_EXPERIMENT_DIR/journal.jsonl")"; return 1; }
  nft_clean || { fail "a kvmfi nftables rule is left: $(nft list ruleset)"; return 1; }
  no_stress || { fail "a stress helper is left: $(pgrep -af -- '--kvmfi-tag=')"; return 1; }
  [[ "$(pid_state "$(mysqld_pid)")" != T ]] || { fail "mariadbd is still stopped"; return 1; }
}

start_mariadb() {
  local t0=$SECONDS
  mkdir -p "$RUN" && chown mysql:mysql "$RUN"
  mariadb-install-db --user=mysql --datadir="$WORK/db" --auth-root-authentication-method=socket \
    >"$WORK/logs/install-db.log" 2>&1
  mariadbd --no-defaults --user=mysql --datadir="$WORK/db" --socket="$SOCK" --pid-file="$RUN/db.pid" \
    --bind-address=127.0.0.1 --port=3306 --skip-name-resolve >"$WORK/logs/mariadbd.log" 2>&1 &
  wait_until 30 db_up || { echo "RESULT FAIL experiment/mariadb-start not up in 30s"; exit 1; }
  db "CREATE DATABASE cloud;
      CREATE USER 'cloud'@'127.0.0.1' IDENTIFIED BY 'cloudpw';
      GRANT ALL ON cloud.* TO 'cloud'@'127.0.0.1';"
  echo "RESULT PASS experiment/mariadb-start ($((SECONDS - t0))s)"
}

# The example with this suite's socket in place of the system's.
mariadb_example() {
  sed "s#/run/mysqld/mysqld.sock#$SOCK#" "$EXAMPLES/mariadb-starvation.toml" >"$WORK/mariadb.toml"
}

write_hdfs() {
  prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }
  local conf="$1" dn="$2" port0="$3"
  {
    echo '<configuration>'
    prop fs.defaultFS hdfs://127.0.0.1:19000
    prop hadoop.tmp.dir "$WORK/tmp"
    prop ipc.client.connect.max.retries 1
    prop ipc.client.connect.timeout 2000
    echo '</configuration>'
  } >"$conf/core-site.xml"
  {
    echo '<configuration>'
    prop dfs.namenode.name.dir "file://$WORK/nn"
    prop dfs.datanode.data.dir "file://$WORK/$dn"
    prop dfs.namenode.rpc-address 127.0.0.1:19000
    prop dfs.namenode.http-address 127.0.0.1:19870
    prop dfs.datanode.address "127.0.0.1:$port0"
    prop dfs.datanode.http.address "127.0.0.1:$((port0 + 1))"
    prop dfs.datanode.ipc.address "127.0.0.1:$((port0 + 2))"
    prop dfs.replication 2
    prop dfs.webhdfs.enabled false
    prop dfs.permissions.enabled false
    prop dfs.heartbeat.interval 1
    prop dfs.namenode.heartbeat.recheck-interval 2000
    prop dfs.namenode.safemode.extension 0
    prop dfs.client.socket-timeout 3000
    echo '</configuration>'
  } >"$conf/hdfs-site.xml"
  printf 'log4j.rootLogger=WARN,console\nlog4j.appender.console=org.apache.log4j.ConsoleAppender\nlog4j.appender.console.target=System.err\nlog4j.appender.console.layout=org.apache.log4j.PatternLayout\n' \
    >"$conf/log4j.properties"
}

# NameNode, DataNode A (the Hadoop class) and DataNode B (a wrapper class,
# so that the example's --main-class crashes only B), replication 2.
start_hdfs() {
  local t0=$SECONDS
  write_hdfs "$WORK/conf" dn-a 19866
  write_hdfs "$WORK/confb" dn-b 19966
  mkdir -p "$WORK/web/webapps/hdfs" "$WORK/web/webapps/datanode" "$WORK/src/kvmfi/test"
  cat >"$WORK/src/kvmfi/test/DataNodeB.java" <<'JAVA'
package kvmfi.test;
/** A second DataNode on the same host, told apart by its main class. */
public class DataNodeB {
  public static void main(String[] args) throws Exception {
    org.apache.hadoop.hdfs.server.datanode.DataNode.main(args);
  }
}
JAVA
  javac -cp "$JARS/*" -d "$WORK/classes" "$WORK/src/kvmfi/test/DataNodeB.java"
  cat >"$WORK/bin/hdfs" <<LAUNCHER
#!/bin/sh
# hdfs launcher for the test cluster (CONF: the configuration directory).
conf="\${CONF:-$WORK/conf}"
case "\$1" in
  namenode) class=org.apache.hadoop.hdfs.server.namenode.NameNode ;;
  datanode) class=org.apache.hadoop.hdfs.server.datanode.DataNode ;;
  datanodeb) class=kvmfi.test.DataNodeB; conf="$WORK/confb" ;;
  dfsadmin) class=org.apache.hadoop.hdfs.tools.DFSAdmin ;;
  dfs) class=org.apache.hadoop.fs.FsShell ;;
  *) echo "hdfs: unknown subcommand \$1" >&2; exit 1 ;;
esac
shift
exec java -Xmx192m -XX:TieredStopAtLevel=1 -Xshare:auto -Dhadoop.root.logger=WARN,console \
  -cp "\$conf:$WORK/web:$WORK/classes:$JARS/*" "\$class" "\$@"
LAUNCHER
  chmod +x "$WORK/bin/hdfs"
  hdfs namenode -format -nonInteractive >"$WORK/logs/format.log" 2>&1
  hdfs namenode >"$WORK/logs/nn.log" 2>&1 &
  hdfs datanode >"$WORK/logs/dn-a.log" 2>&1 &
  hdfs datanodeb >"$WORK/logs/dn-b.log" 2>&1 &
  if ! wait_until 90 live2; then
    tail -n 20 "$WORK/logs/nn.log" "$WORK/logs/dn-b.log" >&2
    echo "RESULT FAIL experiment/hdfs-start HDFS with two live DataNodes did not come up within 90s"
    return 1
  fi
  echo kvmfi-probe >"$WORK/probe.txt"
  hdfs dfs -mkdir -p /kvmfi && hdfs dfs -put -f "$WORK/probe.txt" /kvmfi/probe.txt
  echo "RESULT PASS experiment/hdfs-start ($((SECONDS - t0))s)"
}

# A cheap experiment of three faults: an nftables rule, a stress helper and
# a SIGSTOPped mariadbd, each held HOLD; probe interval 200 ms.
three_faults() {
  local hold="$1"
  cat <<EOF
title = "three faults"
[steady_state]
probes = ["alive"]
interval = "200ms"
[[probe]]
name = "alive"
type = "command"
command = ["true"]
[[method]]
sequence = [
  { fault = "hadoop_injector", args = ["isolate", "10.9.9.9"], duration = "$hold" },
  { parallel = [
      { fault = "hadoop_injector", args = ["mem-stress", "127.0.0.1", "1"], duration = "$hold" },
      { fault = "cloudstack_injector", args = ["hang", "mysql"], duration = "$hold" },
  ] },
]
EOF
}

# --- tests -------------------------------------------------------------------

# Bad files: refused by validate and by run with FILE:LINE: field, exit 2,
# nothing done.
test_bad_files() {
  local good="$WORK/good.toml" f case_ want name sedexpr cmd
  three_faults 1s >"$good"
  "$EX" validate "$good" || { fail "the good file is refused"; return 1; }
  printf 'n1,127.0.0.1,22,DataNode\n' >"$WORK/cluster.conf"
  # shellcheck disable=SC2016 # the backticks are the message's own, not expansions
  local -a cases=(
    'unknown-tool|s/"hadoop_injector", args = \["isolate"/"hadoop_injektor", args = ["isolate"/|:11: method.sequence.fault: unknown tool .hadoop_injektor.'
    'bad-duration|0,/duration = "1s"/s//duration = "1 fortnight"/|:11: method.sequence.duration: .1 fortnight.: unknown unit'
    'missing-probe|s/probes = \["alive"\]/probes = ["alive", "gone"]/|:3: steady_state.probes: no probe named .gone.'
    'unknown-node|s/^\[steady_state\]/[target]\ncluster_conf = "@W@\/cluster.conf"\nnodes = ["n9"]\n[steady_state]/|:4: target.nodes: no node .n9.'
    'unknown-role|s/^\[steady_state\]/[target]\ncluster_conf = "@W@\/cluster.conf"\nroles = ["NameNode"]\n[steady_state]/|:4: target.roles: no node of .* has role NameNode'
    'fault-without-scope|s/args = \["isolate", "10.9.9.9"\]/args = ["isolate"]/|:11: method.sequence.args: a hadoop_injector fault needs a scope'
    'kernel-without-scope|s/{ fault = "hadoop_injector", args = \["isolate", "10.9.9.9"\], duration = "1s" }/{ fault = "kvm-ioctl-fi", args = ["--cmd", "KVM_RUN"], duration = "1s" }/|:11: method.sequence.scope: a kvm-ioctl-fi fault needs a scope'
    'unknown-field|s/^interval/intervall/|:4: unknown field `intervall`'
    'kfail-by-comm|s/{ fault = "hadoop_injector", args = \["isolate", "10.9.9.9"\], duration = "1s" }/{ fault = "kfail-fi", scope = { comm = "java" }, args = ["failslab"], duration = "1s" }/|:11: method.sequence.scope: kfail-fi scopes by task only'
    'disk-without-target|s/{ fault = "hadoop_injector", args = \["isolate", "10.9.9.9"\], duration = "1s" }/{ fault = "disk-fi", args = ["badblocks"], duration = "1s" }/|:11: method.sequence.args: a disk-fi fault needs a scope: its command and target'
  )
  for case_ in "${cases[@]}"; do
    IFS='|' read -r name sedexpr want <<<"$case_"
    f="$WORK/bad-$name.toml"
    sed -e "${sedexpr//@W@/${WORK//\//\\/}}" "$good" >"$f"
    for cmd in validate run; do
      expect_rc 2 "$EX" "$cmd" "$f" || return 1
      grep -qE "^kvmfi-experiment: $f$want" <<<"$ERR" || { fail "$name ($cmd): message lacks '$f$want': $ERR"; return 1; }
      [[ $(wc -l <<<"$ERR") == 1 ]] || { fail "$name ($cmd): more than one line: $ERR"; return 1; }
    done
    echo "$name: $ERR"
  done
  [[ ! -e "$KVMFI_EXPERIMENT_DIR/journal.jsonl" ]] || { fail "a refused run wrote the journal"; return 1; }
  ls -d kvmfi-report-* 2>/dev/null && { fail "a refused run wrote a report"; return 1; }
  nothing_in_force
}

# kfail-fi as a step: armed on the process of a pidfile with a lease; on a
# kernel without the fault framework (this host's, Debian's) the run stops
# with kfail-fi's own exit 4 and message, and nothing is left in force.
test_kfail_step() {
  local f="$WORK/kfail.toml" pid rc=0
  sleep 300 & pid=$!
  echo "$pid" >"$WORK/victim.pid"
  cat >"$f" <<TOML
title = "slab allocations of one process fail"
[steady_state]
probes = ["alive"]
interval = "1s"
[[probe]]
name = "alive"
type = "command"
command = ["kill", "-0", "$pid"]
[[method]]
fault = "kfail-fi"
scope = { pidfile = "$WORK/victim.pid" }
args = ["failslab", "--probability", "100"]
duration = "2s"
TOML
  "$EX" plan "$f" >"$WORK/out" || { fail "plan: $(cat "$WORK/out")"; return 1; }
  grep -qF "kfail-fi arm --tgid \$(cat $WORK/victim.pid) failslab --probability 100 --duration 12000ms" "$WORK/out" \
    || { fail "plan: $(cat "$WORK/out")"; return 1; }
  "$EX" run --report "$WORK/report-kfail" "$f" >"$WORK/out" 2>&1 || rc=$?
  kill "$pid"; wait "$pid" 2>/dev/null || true
  if grep -q 'exited with 4' "$WORK/out"; then
    [[ $rc == 4 ]] || { fail "run exited $rc, wanted kfail-fi's 4: $(cat "$WORK/out")"; return 1; }
    grep -q "kfail-fi arm --tgid $pid failslab" "$WORK/out" || { fail "the pidfile's pid was not the scope: $(cat "$WORK/out")"; return 1; }
    grep -q 'CONFIG_FAILSLAB' "$WORK/out" || { fail "no reason: $(cat "$WORK/out")"; return 1; }
  else
    # A kernel with the framework: the fault held and was undone.
    [[ $rc == 0 ]] || { fail "run exited $rc: $(cat "$WORK/out")"; return 1; }
  fi
  exp_journal_empty || { fail "run journal not empty"; return 1; }
  if "$BIN_DIR/kfail-fi" status --json | grep -q '"id"'; then fail "a kfail-fi fault is in force"; return 1; fi
  nothing_in_force
}

# The MariaDB example: the starvation trips the abort within one probe
# interval, and the rollback restores the limits exactly.
test_mariadb_abort() {
  local before rc=0 holder r="$WORK/report-mariadb"
  mariadb_example
  "$EX" validate "$WORK/mariadb.toml" || return 1
  before="$(limits)"
  # The application's pool: one cloud connection, always busy, opened anew
  # every second (MariaDB counts a session against MAX_USER_CONNECTIONS
  # only when a limit was in force as it connected).
  (while :; do mariadb --protocol=TCP -h 127.0.0.1 -P 3306 -u cloud -pcloudpw cloud -e "SELECT SLEEP(1)" >/dev/null 2>&1; done) &
  holder=$!
  wait_until 10 cloud_busy || { fail "the application's connection never came up"; return 1; }
  "$EX" run --report "$r" "$WORK/mariadb.toml" || rc=$?
  kill "$holder" 2>/dev/null || true
  for id in $(db "SELECT ID FROM information_schema.processlist WHERE User='cloud'"); do db "KILL CONNECTION $id" || true; done
  [[ $rc == 1 ]] || { fail "run exited $rc, wanted 1 (deviated)"; return 1; }
  [[ "$(json "$r/report.json" "r['verdict']")" == deviated ]] || { fail "verdict is not deviated"; return 1; }
  [[ "$(json "$r/report.json" "r['abort']['probe']")" == cloud-query ]] || { fail "the abort was not tripped by the probe"; return 1; }
  local latency undo_after
  latency="$(json "$r/report.json" "r['abort']['at_ms'] - r['faults'][0]['applied_ms']")"
  undo_after="$(json "$r/report.json" "r['faults'][0]['undone_ms'] - r['abort']['at_ms']")"
  echo "abort ${latency} ms after the injection (interval 1000 ms, probe timeout 5 s); undone ${undo_after} ms after the abort"
  # Within one interval plus the failing probe itself (ERROR 1226 is immediate).
  ((latency <= 2500)) || { fail "abort came ${latency} ms after the injection"; return 1; }
  ((undo_after <= 3000)) || { fail "rollback came ${undo_after} ms after the abort"; return 1; }
  [[ "$(json "$r/report.json" "r['faults'][0]['journal'][0]['kind']")" == db-limit ]] || { fail "no journal entry in the report"; return 1; }
  [[ "$(json "$r/report.json" "all(p['ok'] for p in r['probes'] if p['phase'] == 'after')")" == True ]] || { fail "the probe is not healthy after the rollback"; return 1; }
  [[ "$(limits)" == "$before" ]] || { fail "limits not restored: $(limits) vs $before"; return 1; }
  grep -q '<failure' "$r/junit.xml" || { fail "junit.xml shows no failure"; return 1; }
  python3 -c 'import sys,xml.dom.minidom as m; m.parse(sys.argv[1])' "$r/junit.xml" || { fail "junit.xml is not XML"; return 1; }
  nothing_in_force
}

# SIGTERM mid-method: the method stops, everything is rolled back, exit 130.
test_sigterm_rollback() {
  local pid rc=0 r="$WORK/report-term" t0
  three_faults 30s >"$WORK/term.toml"
  "$EX" run --report "$r" "$WORK/term.toml" >"$WORK/logs/term.out" 2>&1 &
  pid=$!
  wait_until 15 applied || { fail "the first fault was never applied"; return 1; }
  t0=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  echo "exited $rc, $((($(date +%s%N) - t0) / 1000000)) ms after SIGTERM"
  [[ $rc == 130 ]] || { fail "exited $rc after SIGTERM, wanted 130: $(tail -3 "$WORK/logs/term.out")"; return 1; }
  [[ "$(json "$r/report.json" "r['verdict']")" == interrupted ]] || { fail "verdict is not interrupted"; return 1; }
  nothing_in_force
}

# kill -9 at random points of a run, then recover: nothing of it remains.
test_crash_safety() {
  local trials="${EXP_TRIALS:-12}" i ms pid rc out killed=0
  three_faults 400ms >"$WORK/crash.toml"
  for ((i = 1; i <= trials; i++)); do
    ms=$((RANDOM % 2500))
    "$EX" run --report "$WORK/report-crash" "$WORK/crash.toml" >>"$WORK/logs/crash.out" 2>&1 &
    pid=$!
    sleep "$(awk -v m="$ms" 'BEGIN{print m/1000}')"
    if kill -9 "$pid" 2>/dev/null; then killed=$((killed + 1)); fi
    rc=0; wait "$pid" 2>/dev/null || rc=$?
    out="$("$EX" recover 2>&1)" || { fail "trial $i (kill at ${ms} ms): recover failed: $out"; return 1; }
    echo "trial $i: kill -9 at ${ms} ms (exit $rc); recover: ${out:-nothing to do}"
    nothing_in_force || { REASON="trial $i (kill at ${ms} ms): $REASON"; return 1; }
    [[ -z "$("$EX" recover 2>&1)" ]] || { fail "trial $i: a second recover was not a no-op"; return 1; }
  done
  echo "$trials trials, $killed killed mid-run"
  ((killed > 0)) || { fail "no trial killed a running experiment"; return 1; }
}

# Every probe type against a real server: HTTP (python3's http.server),
# TCP, QMP (a QEMU with no machine), MariaDB, a command; held when all are
# in tolerance; out of tolerance before the method, nothing is injected.
test_probe_kinds() {
  local qemu http rc=0
  mkdir -p "$WORK/www" && echo ok >"$WORK/www/index.html"
  python3 -m http.server --bind 127.0.0.1 --directory "$WORK/www" 8080 >"$WORK/logs/http.log" 2>&1 &
  http=$!
  qemu-system-x86_64 -machine none -nodefaults -display none -qmp "unix:$WORK/qmp.sock,server=on,wait=off" \
    >"$WORK/logs/qemu.log" 2>&1 &
  qemu=$!
  wait_until 15 test -S "$WORK/qmp.sock" || { fail "QEMU's QMP socket never appeared"; return 1; }
  wait_until 15 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' || { fail "the HTTP server never answered"; return 1; }
  cat >"$WORK/probes.toml" <<TOML
title = "every probe type"
[steady_state]
probes = ["http", "tcp", "qmp", "db", "cmd"]
interval = "300ms"
[[probe]]
name = "http"
type = "http"
url = "http://127.0.0.1:8080/index.html"
max_latency = "2s"
[[probe]]
name = "tcp"
type = "tcp"
address = "127.0.0.1:3306"
[[probe]]
name = "qmp"
type = "qmp"
socket = "$WORK/qmp.sock"
[[probe]]
name = "db"
type = "mariadb"
client = ["mariadb", "--socket=$SOCK"]
query = "SELECT 40 + 2"
expect = "^42$"
[[probe]]
name = "cmd"
type = "command"
command = ["sh", "-c", "echo up; exit 3"]
exit = 3
output = "^up$"
[[method]]
wait = "1s"
TOML
  "$EX" run --report "$WORK/report-probes" "$WORK/probes.toml" || rc=$?
  [[ $rc == 0 ]] || { fail "every-probe run exited $rc: $(json "$WORK/report-probes/report.json" "[p['detail'] for p in r['probes'] if not p['ok']]")"; return 1; }
  [[ "$(json "$WORK/report-probes/report.json" "sorted({p['probe'] for p in r['probes'] if p['phase'] == 'during' and p['ok']})")" == "['cmd', 'db', 'http', 'qmp', 'tcp']" ]] \
    || { fail "not every probe ran during the method"; return 1; }
  # Out of tolerance before the method: a 404, a QEMU that is not paused.
  sed -e 's#/index.html#/missing#' -e 's#^socket = .*#&\nstate = "paused"#' \
    -e 's#^wait = "1s"#fault = "hadoop_injector"\nargs = ["isolate", "10.9.9.9"]\nduration = "5s"#' \
    "$WORK/probes.toml" >"$WORK/probes-bad.toml"
  rc=0
  "$EX" run --report "$WORK/report-bad" "$WORK/probes-bad.toml" || rc=$?
  kill "$http" "$qemu" 2>/dev/null || true
  [[ $rc == 1 ]] || { fail "a failing steady state exited $rc, wanted 1"; return 1; }
  local details
  details="$(json "$WORK/report-bad/report.json" "'; '.join(p['detail'] for p in r['probes'] if not p['ok'])")"
  echo "$details"
  grep -q "HTTP status 404, expected 200" <<<"$details" || { fail "no 404 detail: $details"; return 1; }
  grep -q "QEMU status 'running', expected 'paused'" <<<"$details" || { fail "no QMP detail: $details"; return 1; }
  [[ "$(json "$WORK/report-bad/report.json" "len(r['faults'])")" == 0 ]] || { fail "a fault was applied after a failed steady state"; return 1; }
  nothing_in_force
}

# The stop button: a network fault, a hung daemon and a running experiment;
# kvmfi-halt undoes all, later faults are refused (exit 6) until --release.
test_halt() {
  local exp_pid rc=0
  "$HI" isolate 10.9.9.9 || return 1
  "$CI_" hang mysql || return 1
  [[ "$(pid_state "$(mysqld_pid)")" == T ]] || { fail "mariadbd not stopped"; return 1; }
  cat >"$WORK/long.toml" <<'TOML'
title = "long"
[steady_state]
probes = ["alive"]
[[probe]]
name = "alive"
type = "command"
command = ["true"]
[[method]]
fault = "hadoop_injector"
args = ["mem-stress", "127.0.0.1", "1"]
duration = "5m"
TOML
  # A run killed with its fault in force.
  "$EX" run --report "$WORK/report-long" "$WORK/long.toml" >"$WORK/logs/long.out" 2>&1 &
  exp_pid=$!
  wait_until 15 stressed || { fail "the experiment's fault was never applied"; return 1; }
  kill -9 "$exp_pid"
  wait "$exp_pid" 2>/dev/null || true
  "$HALT" --reason "suite halt test" || { fail "kvmfi-halt failed"; return 1; }
  nothing_in_force || return 1
  expect_rc 6 "$HI" isolate 10.9.9.9 || return 1
  if ! { grep -q "kvmfi is halted" <<<"$ERR" && grep -q "suite halt test" <<<"$ERR"; }; then
    fail "no clear halt error: $ERR"; return 1
  fi
  expect_rc 6 "$CI_" hang mysql || return 1
  expect_rc 6 "$EX" run "$WORK/long.toml" || return 1
  nothing_in_force || return 1
  "$HALT" --status | tee "$WORK/logs/halt-status"
  grep -q "^halted since unix time [0-9]* by root@.*: suite halt test" "$WORK/logs/halt-status" || { fail "--status says: $(cat "$WORK/logs/halt-status")"; return 1; }
  [[ "$("$HALT" --status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["halted"])')" == True ]] || { fail "--status --json"; return 1; }
  "$HALT" --reason again | grep -q "already halted" || { fail "a second halt is not idempotent"; return 1; }
  "$HALT" --release || return 1
  "$HALT" --status | grep -q "^not halted" || { fail "still halted after --release"; return 1; }
  "$HI" isolate 10.9.9.9 || { fail "arming refused after --release"; return 1; }
  "$HI" recover || return 1
  # A running experiment: the halt stops it, it rolls back by itself.
  "$EX" run --report "$WORK/report-long2" "$WORK/long.toml" >"$WORK/logs/long2.out" 2>&1 &
  exp_pid=$!
  wait_until 15 stressed || { fail "the second experiment's fault was never applied"; return 1; }
  "$HALT" --reason "second halt" || { fail "kvmfi-halt failed with an experiment running"; return 1; }
  wait "$exp_pid" || rc=$?
  [[ $rc == 130 ]] || { fail "the running experiment exited $rc, wanted 130 (stopped, rolled back)"; return 1; }
  [[ "$(json "$WORK/report-long2/report.json" "r['verdict']")" == interrupted ]] || { fail "its report does not say interrupted"; return 1; }
  "$HALT" --release || return 1
  nothing_in_force
}

# The HDFS example: reads keep working while DataNode B is crashed; the
# rollback starts it again.
test_hdfs_datanode() {
  local r="$WORK/report-hdfs" pid new rc=0
  pid="$(pgrep -f kvmfi.test.DataNodeB)"
  "$EX" run --report "$r" "$EXAMPLES/hdfs-datanode-crash.toml" || rc=$?
  [[ $rc == 0 ]] || { fail "run exited $rc, wanted 0 (held): $(json "$r/report.json" "r['abort']")"; return 1; }
  [[ "$(json "$r/report.json" "sum(1 for p in r['probes'] if p['phase'] == 'during' and p['probe'] == 'read')")" -ge 2 ]] \
    || { fail "fewer than two reads during the crash"; return 1; }
  [[ "$(json "$r/report.json" "r['faults'][0]['journal'][0]['kind']")" == crash ]] || { fail "no crash journal entry"; return 1; }
  new="$(pgrep -f kvmfi.test.DataNodeB)"
  [[ -n "$new" && "$new" != "$pid" ]] || { fail "DataNode B was not crashed and restarted ($pid -> $new)"; return 1; }
  journal_empty && exp_journal_empty
}

# The report page in a real browser: it renders, lanes and marks are
# there, nothing is fetched from outside; the screenshot is the README's.
test_report_browser() {
  local page="$WORK/report-mariadb/report.html" dom
  command -v chromium >/dev/null || { fail "chromium is not installed (tests/userspace/setup.sh installs it)"; return 1; }
  [[ -s "$page" ]] || { fail "no report page from the MariaDB run"; return 1; }
  ! grep -Eo '(src|href)="[^"#]+"|url\(|@import' "$page" || { fail "the page refers to outside resources"; return 1; }
  dom="$(timeout 60 chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --host-resolver-rules='MAP * ~NOTFOUND' --dump-dom "file://$page" 2>"$WORK/logs/chromium.err")" \
    || { fail "chromium could not render the page: $(tail -2 "$WORK/logs/chromium.err")"; return 1; }
  grep -q 'data-lane="fault:s1"' <<<"$dom" || { fail "no fault lane in the rendered DOM"; return 1; }
  grep -q 'data-lane="probe:cloud-query"' <<<"$dom" || { fail "no probe lane"; return 1; }
  grep -q 'class="mark journal-entry"' <<<"$dom" || { fail "no journal mark"; return 1; }
  grep -q 'class="mark inject"' <<<"$dom" || { fail "no injection mark"; return 1; }
  grep -q 'class="probe probe-fail"' <<<"$dom" || { fail "no failed probe span"; return 1; }
  grep -q 'id="abort"' <<<"$dom" || { fail "the abort is not shown"; return 1; }
  grep -q 'id="phase-rollback"' <<<"$dom" || { fail "the rollback is not shown"; return 1; }
  # The picture: the page's own SVG alone, at its own size.
  local size
  size="$(python3 - "$page" "$WORK/timeline.html" <<'PY'
import re, sys
svg = re.search(r'<svg id="timeline".*?</svg>', open(sys.argv[1]).read(), re.S).group(0)
open(sys.argv[2], "w").write('<!DOCTYPE html><html><body style="margin:0">' + svg + '</body></html>')
w, h = re.search(r'width="([0-9.]+)" height="([0-9.]+)"', svg).groups()
print(f"{int(float(w))},{int(float(h))}")
PY
)"
  timeout 60 chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
    --host-resolver-rules='MAP * ~NOTFOUND' --window-size="$size" --screenshot="$WORK/timeline.png" \
    "file://$WORK/timeline.html" 2>>"$WORK/logs/chromium.err" || { fail "no screenshot"; return 1; }
  [[ -s "$WORK/timeline.png" ]] || { fail "empty screenshot"; return 1; }
  mkdir -p "$(dirname "$PICTURE")" && cp "$WORK/timeline.png" "$PICTURE"
  echo "screenshot: $PICTURE ($(stat -c %s "$PICTURE") bytes)"
}

# EXP_TESTS: only these tests (names as below), for quick iterations.
main() {
  (($# == 0)) || { usage; exit 2; }
  local -a tests
  read -ra tests <<<"${EXP_TESTS:-bad_files kfail_step probe_kinds mariadb_abort sigterm_rollback crash_safety halt hdfs_datanode report_browser}"
  start_mariadb
  local t
  for t in "${tests[@]}"; do
    if [[ $t == hdfs_datanode ]]; then
      start_hdfs || continue
    fi
    run_test "$t"
  done
}

main "$@"
