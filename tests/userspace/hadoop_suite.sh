#!/usr/bin/env bash
# The hadoop_injector suite. Runs inside its own pid, network and mount
# namespaces (run.sh starts it with unshare), so /proc shows only the
# daemons it starts and 127.0.0.1 is private: nothing else on the host can
# be hit. A real HDFS (NameNode, DataNode, SecondaryNameNode, Hadoop 2.7.3)
# and stand-in JVMs for ResourceManager, NodeManager and JobHistoryServer.
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-hadoop.XXXXXX)"
export WORK
SUITE=hadoop
mkdir -p "$WORK/logs" "$WORK/bin" "$WORK/conf"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
export KVMFI_STATE_DIR="$WORK/journal"
HI="$BIN_DIR/hadoop_injector"

cleanup() {
  # We are pid 1 of this pid namespace: every daemon dies with us.
  jobs -p | xargs -r kill -9 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

ip link set lo up

write_conf() {
  prop() { printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"; }
  {
    echo '<configuration>'
    prop fs.defaultFS hdfs://127.0.0.1:19000
    prop hadoop.tmp.dir "$WORK/tmp"
    prop ipc.client.connect.max.retries 1
    prop ipc.client.connect.retry.interval 300
    prop ipc.client.connect.timeout 2000
    prop ipc.client.connect.max.retries.on.timeouts 1
    echo '</configuration>'
  } >"$WORK/conf/core-site.xml"
  {
    echo '<configuration>'
    prop dfs.namenode.name.dir "file://$WORK/nn"
    prop dfs.datanode.data.dir "file://$WORK/dn"
    prop dfs.namenode.checkpoint.dir "file://$WORK/snn"
    prop dfs.namenode.rpc-address 127.0.0.1:19000
    prop dfs.namenode.http-address 127.0.0.1:19870
    prop dfs.namenode.secondary.http-address 127.0.0.1:19868
    prop dfs.datanode.address 127.0.0.1:19866
    prop dfs.datanode.http.address 127.0.0.1:19864
    prop dfs.datanode.ipc.address 127.0.0.1:19867
    prop dfs.replication 1
    prop dfs.webhdfs.enabled false
    prop dfs.permissions.enabled false
    prop dfs.heartbeat.interval 1
    prop dfs.namenode.heartbeat.recheck-interval 2000
    prop dfs.namenode.safemode.extension 0
    prop dfs.namenode.checkpoint.period 36000
    echo '</configuration>'
  } >"$WORK/conf/hdfs-site.xml"
  cat >"$WORK/conf/log4j.properties" <<'L4J'
hadoop.root.logger=INFO,console
log4j.rootLogger=${hadoop.root.logger}
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d %p %c{2}: %m%n
L4J
  mkdir -p "$WORK/web/webapps/hdfs" "$WORK/web/webapps/datanode" "$WORK/web/webapps/secondary"
  # The cluster's own launcher, as the injector finds it on PATH.
  cat >"$WORK/bin/hdfs" <<LAUNCHER
#!/bin/sh
# hdfs launcher for the test cluster: maps subcommands to their classes.
level=WARN
case "\$1" in
  namenode) class=org.apache.hadoop.hdfs.server.namenode.NameNode; level=INFO ;;
  datanode) class=org.apache.hadoop.hdfs.server.datanode.DataNode; level=INFO ;;
  secondarynamenode) class=org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode; level=INFO ;;
  dfsadmin) class=org.apache.hadoop.hdfs.tools.DFSAdmin ;;
  dfs) class=org.apache.hadoop.fs.FsShell ;;
  *) echo "hdfs: unknown subcommand \$1" >&2; exit 1 ;;
esac
shift
exec java -Xmx256m -XX:TieredStopAtLevel=1 -Dhadoop.root.logger=\$level,console \
  -Dproc_hdfs -cp "$WORK/conf:$WORK/web:$JARS/*" "\$class" "\$@"
LAUNCHER
  chmod +x "$WORK/bin/hdfs"
  # A fake yarn launcher: records its argv, one call per line.
  cat >"$WORK/bin/yarn" <<FAKE
#!/bin/sh
echo "\$*" >> "$WORK/yarn-calls"
echo "refreshed (fake yarn)"
FAKE
  chmod +x "$WORK/bin/yarn"
}

hdfs() { "$WORK/bin/hdfs" "$@"; }
component_gone() { [[ -z "$(pid_of_component hadoop_injector "$1")" ]]; }
pid_gone() { [[ ! -e "/proc/$1" || "$(pid_state "$1")" == Z ]]; }
is_stopped() { [[ "$(pid_state "$1")" == T ]]; }
live_dn() { grep -q "Live datanodes (1)" <<<"$(hdfs dfsadmin -report 2>/dev/null)"; }
dead_dn() { grep -q "Dead datanodes (1)" <<<"$(hdfs dfsadmin -report 2>/dev/null)"; }

start_hdfs() {
  local t0=$SECONDS
  hdfs namenode -format -nonInteractive >"$WORK/logs/format.log" 2>&1
  hdfs namenode >"$WORK/logs/nn.log" 2>&1 &
  hdfs datanode >"$WORK/logs/dn.log" 2>&1 &
  hdfs secondarynamenode >"$WORK/logs/snn.log" 2>&1 &
  if ! wait_until 90 live_dn; then
    tail -n 20 "$WORK/logs/nn.log" "$WORK/logs/dn.log" >&2
    echo "RESULT FAIL hdfs-start HDFS did not come up within 90s"
    exit 1
  fi
  echo "# HDFS (format + NN + DN + SNN, DataNode live) up in $((SECONDS - t0))s" >&2
  echo "RESULT PASS hdfs-start ($((SECONDS - t0))s)"
}

put_file() { echo "data $RANDOM" >"$WORK/f.txt"; hdfs dfs -put -f "$WORK/f.txt" "/t-$1"; }

# --- tests -----------------------------------------------------------------

test_list_hdfs() {
  local out
  out="$("$HI" list)"
  echo "$out"
  for c in nn dn snn; do
    [[ $(awk -F'\t' -v c=$c '$1==c' <<<"$out" | wc -l) == 1 ]] || { fail "list shows $c not exactly once: $out"; return 1; }
  done
  awk -F'\t' '$1=="nn" && $4 !~ /\.NameNode$/ {exit 1}' <<<"$out" || { fail "nn has the wrong class"; return 1; }
  awk -F'\t' '$1=="snn" && $4 !~ /SecondaryNameNode$/ {exit 1}' <<<"$out" || { fail "snn has the wrong class"; return 1; }
  "$HI" list --json | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' || { fail "list --json is not JSON lines"; return 1; }
}

test_safe_mode() {
  "$HI" hdfs-safe enter || return 1
  grep -q "hdfs-safe" <<<"$("$HI" status)" || { fail "status does not show hdfs-safe"; return 1; }
  local err
  err="$(put_file a 2>&1)" && { fail "put succeeded in safe mode"; return 1; }
  grep -q "Name node is in safe mode" <<<"$err" || { fail "put failed without the safe-mode error: $err"; return 1; }
  "$HI" hdfs-safe leave || return 1
  put_file b || { fail "put fails after leave"; return 1; }
  journal_empty || { fail "journal not empty after leave"; return 1; }
}

test_hang_resume_nn() {
  local pid
  pid="$(pid_of_component hadoop_injector nn)"
  "$HI" hang nn || return 1
  wait_until 5 is_stopped "$pid" || { fail "NameNode not stopped"; return 1; }
  if timeout 12 "$WORK/bin/hdfs" dfsadmin -report >/dev/null 2>&1; then fail "dfsadmin answered while nn hung"; return 1; fi
  "$HI" resume nn || return 1
  [[ "$(pid_state "$pid")" != T ]] || { fail "NameNode still stopped"; return 1; }
  wait_until 30 live_dn || { fail "dfsadmin does not answer after resume"; return 1; }
  journal_empty || { fail "journal not empty after resume"; return 1; }
}

test_crash_dn_recover() {
  local pid new
  pid="$(pid_of_component hadoop_injector dn)"
  "$HI" crash dn || return 1
  wait_until 10 pid_gone "$pid" || { fail "DataNode still alive"; return 1; }
  wait_until 60 dead_dn || { fail "NameNode never reported a dead DataNode"; return 1; }
  "$HI" recover || return 1
  new="$(pid_of_component hadoop_injector dn)"
  [[ -n "$new" && "$new" != "$pid" ]] || { fail "recover did not start the DataNode again"; return 1; }
  wait_until 60 live_dn || { fail "restarted DataNode never became live"; return 1; }
  journal_empty || { fail "journal not empty after recover"; return 1; }
  [[ -z "$("$HI" recover)" ]] || { fail "second recover was not a no-op"; return 1; }
}

test_standins() {
  local rm nm jhs out
  rm=$(start_standin org.apache.hadoop.yarn.server.resourcemanager.ResourceManager "$WORK/logs/rm.log")
  nm=$(start_standin org.apache.hadoop.yarn.server.nodemanager.NodeManager "$WORK/logs/nm.log")
  jhs=$(start_standin org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer "$WORK/logs/jhs.log")
  wait_until 20 grep -q up "$WORK/logs/jhs.log"
  out="$("$HI" list)"
  echo "$out"
  [[ "$(pid_of_component hadoop_injector rm)" == "$rm" ]] || { fail "rm not found as pid $rm"; return 1; }
  [[ "$(pid_of_component hadoop_injector nm)" == "$nm" ]] || { fail "nm not found as pid $nm"; return 1; }
  [[ "$(pid_of_component hadoop_injector jhs)" == "$jhs" ]] || { fail "jhs not found as pid $jhs"; return 1; }
  "$HI" hang rm || return 1
  wait_until 5 is_stopped "$rm" || { fail "rm not stopped"; return 1; }
  grep -qP "^rm\t$rm\tstopped\t" <<<"$("$HI" list)" || { fail "list does not say stopped"; return 1; }
  "$HI" resume rm || return 1
  [[ "$(pid_state "$rm")" != T ]] || { fail "rm not resumed"; return 1; }
  "$HI" crash nm || return 1
  wait_until 5 pid_gone "$nm" || { fail "nm still alive"; return 1; }
  [[ -z "$(pid_of_component hadoop_injector nm)" ]] || { fail "nm still listed after crash"; return 1; }
  "$HI" recover || return 1
  [[ -n "$(pid_of_component hadoop_injector nm)" ]] || { fail "nm not restarted by recover"; return 1; }
  # A main-class override: jhs looked for under another class name.
  grep -q '^jhs' <<<"$("$HI" --main-class jhs=org.example.Nothing list)" && { fail "override ignored"; return 1; }
  expect_rc 5 "$HI" --main-class jhs=org.example.Nothing hang jhs || return 1
  journal_empty || { fail "journal not empty"; return 1; }
}

test_yarn_refresh() {
  rm -f "$WORK/yarn-calls"
  PATH="$WORK/bin:$PATH" "$HI" yarn-refresh || return 1
  [[ "$(cat "$WORK/yarn-calls")" == $'rmadmin -refreshNodes\nrmadmin -refreshQueues' ]] || { fail "yarn got: $(cat "$WORK/yarn-calls")"; return 1; }
  # Through HADOOP_HOME when yarn is not on PATH.
  mkdir -p "$WORK/hh/bin" && cp "$WORK/bin/yarn" "$WORK/hh/bin/yarn"
  rm -f "$WORK/yarn-calls"
  PATH=/usr/bin:/bin HADOOP_HOME="$WORK/hh" "$HI" yarn-refresh || return 1
  [[ $(wc -l <"$WORK/yarn-calls") == 2 ]] || { fail "yarn via HADOOP_HOME not called"; return 1; }
  expect_rc 4 env PATH=/usr/bin:/bin HADOOP_HOME=/nonexistent "$HI" yarn-refresh || return 1
  grep -q "HADOOP_HOME" <<<"$ERR" || { fail "no hint in: $ERR"; return 1; }
}

test_yarn_health() {
  local m="$WORK/nm-health" script="$WORK/nm-health-check.sh"
  # The NodeManager health script (yarn.nodemanager.health-checker.script.path).
  printf '#!/bin/sh\nexec %s yarn-health check --marker %s\n' "$HI" "$m" >"$script"
  chmod +x "$script"
  echo "OK-before" >"$m"
  [[ "$("$script")" == OK ]] || { fail "healthy node not OK"; return 1; }
  "$HI" yarn-health fail --marker "$m" || return 1
  [[ "$(cat "$m")" == ERROR ]] || { fail "marker not ERROR"; return 1; }
  grep -q '^ERROR' <<<"$("$script")" || { fail "health script does not print ERROR"; return 1; }
  "$HI" yarn-health ok --marker "$m" || return 1
  [[ "$(cat "$m")" == OK-before ]] || { fail "marker not restored: $(cat "$m")"; return 1; }
  [[ "$("$script")" == OK ]] || { fail "script not OK after ok"; return 1; }
  # A marker that did not exist is removed again.
  rm -f "$m"
  "$HI" yarn-health fail --marker "$m" || return 1
  "$HI" recover || return 1
  [[ ! -e "$m" ]] || { fail "marker left behind"; return 1; }
  journal_empty || { fail "journal not empty"; return 1; }
}

# Crash safety: the injector dies (SIGKILL) right after applying; recover
# must restore everything, and a second recover must do nothing.

test_killed_hang() {
  local pid
  pid="$(pid_of_component hadoop_injector snn)"
  die_apply "$HI" hang snn || return 1
  # A JVM's group stop completes once all its threads stopped: poll.
  wait_until 5 is_stopped "$pid" || { fail "snn not stopped"; return 1; }
  grep -qP "\thang\tsnn\tpending\t" <<<"$("$HI" status)" || { fail "status does not show the pending hang: $("$HI" status)"; return 1; }
  "$HI" recover || return 1
  [[ "$(pid_state "$pid")" != T ]] || { fail "snn still stopped after recover"; return 1; }
  [[ -z "$("$HI" recover)" ]] || { fail "second recover not a no-op"; return 1; }
  journal_empty
}

test_killed_safe_mode() {
  die_apply "$HI" hdfs-safe enter || return 1
  grep -q "Safe mode is ON" <<<"$(hdfs dfsadmin -safemode get)" || { fail "safe mode not on"; return 1; }
  "$HI" recover || return 1
  grep -q "Safe mode is OFF" <<<"$(hdfs dfsadmin -safemode get)" || { fail "safe mode still on after recover"; return 1; }
  put_file c || { fail "writes fail after recover"; return 1; }
  journal_empty
}

test_killed_crash() {
  local pid
  pid="$(pid_of_component hadoop_injector dn)"
  die_apply "$HI" crash dn || return 1
  wait_until 5 component_gone dn || { fail "dn not killed"; return 1; }
  "$HI" recover || return 1
  [[ -n "$(pid_of_component hadoop_injector dn)" ]] || { fail "dn not restarted"; return 1; }
  wait_until 60 live_dn || { fail "restarted DataNode not live"; return 1; }
  journal_empty
}

test_killed_yarn_health() {
  local m="$WORK/nm-health2"
  echo "fine" >"$m"
  die_apply "$HI" yarn-health fail --marker "$m" || return 1
  [[ "$(cat "$m")" == ERROR ]] || { fail "marker not ERROR"; return 1; }
  "$HI" recover || return 1
  [[ "$(cat "$m")" == fine ]] || { fail "marker not restored"; return 1; }
  journal_empty
}

test_killed_network() {
  die_apply "$HI" network 10.99.0.7 || return 1
  grep -q "10.99.0.7" <<<"$(nft list table inet kvmfi)" || { fail "no rule after apply"; return 1; }
  "$HI" recover || return 1
  nft list table inet kvmfi >/dev/null 2>&1 && { fail "kvmfi table left after recover"; return 1; }
  journal_empty
}

test_torn_journal() {
  # A torn last line (kill -9 during a write) must not break anything.
  printf '{"op":"begin","id":99,"tool":"hadoop_injector","ki' >>"$KVMFI_STATE_DIR/journal.jsonl"
  "$HI" status >/dev/null || { fail "status fails on a torn line"; return 1; }
  "$HI" yarn-health fail --marker "$WORK/m3" || return 1
  [[ $("$HI" status | wc -l) == 1 ]] || { fail "status after torn line: $("$HI" status)"; return 1; }
  "$HI" recover >/dev/null || return 1
  journal_empty
}

test_concurrent() {
  # Two injectors at once are serialized by the lock: both faults journaled.
  local a b
  "$HI" yarn-health fail --marker "$WORK/c1" &
  a=$!
  "$HI" yarn-health fail --marker "$WORK/c2" &
  b=$!
  wait "$a" || { fail "the first concurrent run failed"; return 1; }
  wait "$b" || { fail "the second concurrent run failed"; return 1; }
  [[ $("$HI" status | wc -l) == 2 ]] || { fail "not both journaled"; return 1; }
  "$HI" recover  || return 1
  [[ ! -e "$WORK/c1" && ! -e "$WORK/c2" ]] || { fail "markers left"; return 1; }
  journal_empty
}

test_recover_one() {
  local id1 id2
  id1="$("$HI" yarn-health fail --marker "$WORK/r1" | cut -f1)"
  id2="$("$HI" yarn-health fail --marker "$WORK/r2" | cut -f1)"
  "$HI" recover "$id1" || return 1
  [[ ! -e "$WORK/r1" && -e "$WORK/r2" ]] || { fail "recover $id1 undid the wrong thing"; return 1; }
  expect_rc 5 "$HI" recover "$id1" || return 1
  "$HI" status --json | python3 -c "import json,sys; d=[json.loads(l) for l in sys.stdin]; assert [e['id'] for e in d]==[$id2], d" \
    || { fail "status --json wrong"; return 1; }
  "$HI" recover "$id2" || return 1
  journal_empty
}

test_dry_run() {
  local out pid
  pid="$(pid_of_component hadoop_injector nn)"
  out="$(setpriv --reuid 65534 --regid 65534 --clear-groups "$HI" --dry-run hang nn)"
  grep -q "kill -STOP $pid" <<<"$out" || { fail "dry run does not show the kill: $out"; return 1; }
  grep -q "kill -CONT $pid" <<<"$out" || { fail "dry run does not show the undo"; return 1; }
  [[ "$(pid_state "$pid")" != T ]] || { fail "dry run stopped the NameNode"; return 1; }
  out="$("$HI" --dry-run network 10.1.2.3)"
  grep -q 'ip saddr 10.1.2.3 counter drop comment "kvmfi-0"' <<<"$out" || { fail "dry run network: $out"; return 1; }
  nft list table inet kvmfi >/dev/null 2>&1 && { fail "dry run created the table"; return 1; }
  journal_empty
}

test_not_root() {
  expect_rc 3 setpriv --reuid 65534 --regid 65534 --clear-groups "$HI" hang nn || return 1
  grep -q "root" <<<"$ERR" || { fail "message does not mention root: $ERR"; return 1; }
  [[ "$(pid_state "$(pid_of_component hadoop_injector nn)")" != T ]]
}

test_bad_input() {
  local args
  local -a table=(
    "crash xx" "hang" "resume nn dn" "network 10.0.0.300" "network host"
    "network 0.0.0.0" "network-clear" "hdfs-safe sideways" "yarn-health maybe"
    "recover -1" "recover 99999999999999999999999" "recover 0" "--timeout -5s list"
    "--main-class nn list" "--main-class zz=a.B list" "frobnicate" ""
  )
  for args in "${table[@]}"; do
    # shellcheck disable=SC2086 # word splitting of the table entry is intended
    expect_rc 2 "$HI" $args || return 1
    [[ $(printf '%s\n' "$ERR" | wc -l) == 1 ]] || { fail "'$args': error is not one line: $ERR"; return 1; }
    echo "ok: '$args' -> $ERR"
  done
  journal_empty || { fail "bad input changed the journal"; return 1; }
  nft list table inet kvmfi >/dev/null 2>&1 && { fail "bad input created a table"; return 1; }
  # Not running: exit 5.
  expect_rc 5 "$HI" hang jhs || return 1
  # No hdfs launcher: exit 4 naming the fix.
  expect_rc 4 env PATH=/usr/bin:/bin HADOOP_HOME= "$HI" hdfs-safe enter || return 1
  # No firewall tool: exit 4 naming the package.
  mkdir -p "$WORK/emptybin"
  expect_rc 4 env PATH="$WORK/emptybin" "$HI" network 10.1.1.1 || return 1
  grep -q "nftables" <<<"$ERR" || { fail "no install hint: $ERR"; return 1; }
  journal_empty
}

main() {
  write_conf
  export PATH="$WORK/bin:$PATH"
  start_hdfs
  local t
  for t in list_hdfs bad_input not_root dry_run safe_mode hang_resume_nn standins yarn_refresh yarn_health \
           recover_one torn_journal concurrent killed_hang killed_safe_mode killed_yarn_health killed_network \
           crash_dn_recover killed_crash; do
    run_test "$t"
  done
}

main "$@"
