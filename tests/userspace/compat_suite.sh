#!/usr/bin/env bash
# Compatibility suite for hadoop_injector and cloudstack_injector: the
# original documentation's command lines run verbatim, and every command the
# original's later code added, each with its user-visible effect, its undo,
# and recover after kill -9. Runs in its own pid, network and mount
# namespaces (run.sh starts it with unshare): private tmpfs on
# /var/lib/kvmfi (the default health marker) and /run/mysqld (the client's
# default socket, so `cloudstack_injector db-limit` runs as documented), a
# real MariaDB, real virsh on libvirt's test driver, nftables, loop-device
# ext4, and stand-in JVMs with the exact main classes.
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-compat.XXXXXX)"
export WORK
SUITE=compat
mkdir -p "$WORK/logs" "$WORK/bin"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
export KVMFI_STATE_DIR="$WORK/journal"
HI="$BIN_DIR/hadoop_injector"
# The documented command lines call the tools by name.
export PATH="$WORK/bin:$BIN_DIR:$PATH"
LOOP=""

cleanup() {
  jobs -p | xargs -r kill -9 2>/dev/null || true
  umount -l "$WORK/ext" "$WORK/fs" "$WORK/fill" 2>/dev/null || true
  [[ -n "$LOOP" ]] && losetup -d "$LOOP" 2>/dev/null
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

ip link set lo up
# A default route (over lo) so that api-delay finds its device as documented.
ip route add default dev lo 2>/dev/null || true
mount -t tmpfs kvmfi-state /var/lib/kvmfi 2>/dev/null || { mkdir -p /var/lib/kvmfi && mount -t tmpfs kvmfi-state /var/lib/kvmfi; }
mkdir -p /run/mysqld && mount -t tmpfs kvmfi-mysqld /run/mysqld && chown mysql:mysql /run/mysqld
chmod 755 "$WORK"

SOCK=/run/mysqld/mysqld.sock
DBPORT=13307
db() { mariadb --socket="$SOCK" --batch --skip-column-names -e "$1"; }
cloud_sql() { mariadb --protocol=TCP -h 127.0.0.1 -P "$DBPORT" -u cloud -pcloudpw cloud --batch --skip-column-names -e "$1"; }
db_up() { db "SELECT 1"; }

start_mariadb() {
  local t0=$SECONDS
  mariadb-install-db --user=mysql --datadir="$WORK/db" --auth-root-authentication-method=socket \
    >"$WORK/logs/install-db.log" 2>&1
  mariadbd --no-defaults --user=mysql --datadir="$WORK/db" --socket="$SOCK" --pid-file=/run/mysqld/db.pid \
    --bind-address=127.0.0.1 --port=$DBPORT --skip-name-resolve >"$WORK/logs/mariadbd.log" 2>&1 &
  wait_until 30 db_up || { echo "RESULT FAIL compat/mariadb-start not up in 30s"; exit 1; }
  db "CREATE DATABASE cloud;
      CREATE TABLE cloud.vm_instance (id INT PRIMARY KEY, state VARCHAR(32));
      INSERT INTO cloud.vm_instance VALUES (1, 'Running');
      CREATE USER 'cloud'@'127.0.0.1' IDENTIFIED BY 'cloudpw';
      GRANT ALL ON cloud.* TO 'cloud'@'127.0.0.1';"
  echo "RESULT PASS compat/mariadb-start ($((SECONDS - t0))s)"
}

# serve PORT: a small HTTP server on 127.0.0.1:PORT; reach PORT: it answers within 2 s.
serve() { python3 -m http.server --bind 127.0.0.1 "$1" --directory "$WORK/logs" >/dev/null 2>&1 & }
reach() { curl -s -m 2 -o /dev/null "http://127.0.0.1:$1/"; }
component_gone() { [[ -z "$(pid_of_component "$1" "$2")" ]]; }
tagged_helpers() { pgrep -f -- "--kvmfi-helper $1" | wc -l; }
no_helpers() { [[ "$(tagged_helpers "$1")" == 0 ]]; }

# A virsh that is the real one on libvirt's test driver (no daemon), with
# state kept between calls: each call replays the earlier successful state
# changes in the same virsh session, then runs its own command.
write_virsh() {
  cat >"$WORK/virsh-node.xml" <<'XML'
<node>
  <domain type='test'><name>s-1-VM</name><memory>8192</memory><os><type>hvm</type></os></domain>
  <domain type='test'><name>v-2-VM</name><memory>8192</memory><os><type>hvm</type></os></domain>
  <domain type='test'><name>r-3-VM</name><memory>8192</memory><os><type>hvm</type></os></domain>
  <domain type='test'><name>i-2-10-VM</name><memory>8192</memory><os><type>hvm</type></os></domain>
</node>
XML
  cat >"$WORK/bin/virsh" <<WRAP
#!/bin/bash
[[ "\$1" == -c ]] && shift 2
echo "\$*" >>"$WORK/virsh-calls"
hist=""
[[ -f "$WORK/virsh-history" ]] && hist="\$(tr '\n' ';' <"$WORK/virsh-history")"
out="\$(/usr/bin/virsh -c "test://$WORK/virsh-node.xml" "\$hist echo KVMFI-MARK; \$*" 2>"$WORK/virsh-err")"
rc=\$?
sed -n '/^KVMFI-MARK\$/,\$p' <<<"\$out" | tail -n +2
cat "$WORK/virsh-err" >&2
case "\$1" in destroy|start|suspend|resume) [[ \$rc == 0 ]] && echo "\$*" >>"$WORK/virsh-history" ;; esac
exit \$rc
WRAP
  chmod +x "$WORK/bin/virsh"
}
domstate() { virsh domstate "$1" | head -n 1; }

# A fake ssh: the "other node" is this namespace with its own journal; it
# records its argv and runs the remote command line with sh.
write_ssh() {
  cat >"$WORK/bin/ssh" <<FAKE
#!/bin/bash
echo "\$*" >>"$WORK/ssh-calls"
while [[ "\$1" == -* ]]; do shift 2; done
shift # the host
KVMFI_STATE_DIR="$WORK/remote-journal" exec env -u KVMFI_TEST_DIE_AFTER_APPLY sh -c "\$*"
FAKE
  chmod +x "$WORK/bin/ssh"
}

# --- documented command lines, verbatim ---------------------------------------

test_hadoop_documented() {
  local nn dn m=/var/lib/kvmfi/nm-health
  nn=$(start_standin org.apache.hadoop.hdfs.server.namenode.NameNode "$WORK/logs/nn.log")
  dn=$(start_standin org.apache.hadoop.hdfs.server.datanode.DataNode "$WORK/logs/dn.log")
  start_standin org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode "$WORK/logs/snn.log" >/dev/null
  start_standin org.apache.hadoop.yarn.server.resourcemanager.ResourceManager "$WORK/logs/rm.log" >/dev/null
  start_standin org.apache.hadoop.yarn.server.nodemanager.NodeManager "$WORK/logs/nm.log" >/dev/null
  start_standin org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer "$WORK/logs/jhs.log" >/dev/null
  wait_until 30 grep -q up "$WORK/logs/jhs.log"
  local out
  out="$(hadoop_injector list)"
  echo "$out"
  for c in nn dn snn rm nm jhs; do
    grep -qP "^$c\t" <<<"$out" || { fail "list lacks $c"; return 1; }
  done
  hadoop_injector crash nn || return 1
  wait_until 5 component_gone hadoop_injector nn || { fail "crash nn left it running"; return 1; }
  hadoop_injector recover || return 1
  [[ -n "$(pid_of_component hadoop_injector nn)" && "$(pid_of_component hadoop_injector nn)" != "$nn" ]] || { fail "nn not restarted"; return 1; }
  hadoop_injector hang dn || return 1
  wait_until 5 is_stopped "$dn" || { fail "hang dn"; return 1; }
  hadoop_injector resume dn || return 1
  [[ "$(pid_state "$dn")" != T ]] || { fail "resume dn"; return 1; }
  hadoop_injector hang rm && hadoop_injector resume rm || return 1
  hadoop_injector network 10.77.9.9 || return 1
  grep -q "10.77.9.9" <<<"$(nft list table inet kvmfi)" || { fail "network rule missing"; return 1; }
  hadoop_injector network-clear 10.77.9.9 || return 1
  nft list table inet kvmfi >/dev/null 2>&1 && { fail "table left after network-clear"; return 1; }
  echo fine >"$m"
  hadoop_injector yarn-health fail || return 1
  [[ "$(cat "$m")" == ERROR ]] || { fail "yarn-health fail: $(cat "$m")"; return 1; }
  hadoop_injector yarn-health ok || return 1
  [[ "$(cat "$m")" == fine ]] || { fail "yarn-health ok: $(cat "$m")"; return 1; }
  printf '#!/bin/sh\necho "$*" >>%s/yarn-calls\n' "$WORK" >"$WORK/bin/yarn" && chmod +x "$WORK/bin/yarn"
  hadoop_injector yarn-refresh || return 1
  [[ $(wc -l <"$WORK/yarn-calls") == 2 ]] || { fail "yarn-refresh"; return 1; }
  journal_empty
}

test_cloudstack_documented() {
  local agent
  start_standin org.apache.cloudstack.ServerDaemon "$WORK/logs/ms.log" >/dev/null
  agent=$(start_standin com.cloud.agent.AgentShell "$WORK/logs/agent.log")
  start_standin com.cloud.usage.UsageServer "$WORK/logs/usage.log" >/dev/null
  wait_until 30 grep -q up "$WORK/logs/usage.log"
  cloudstack_injector list | tee "$WORK/list.txt"
  for c in ms agent usage mysql; do grep -qP "^$c\t" "$WORK/list.txt" || { fail "list lacks $c"; return 1; }; done
  cloudstack_injector crash ms || return 1
  wait_until 5 component_gone cloudstack_injector ms || { fail "crash ms"; return 1; }
  cloudstack_injector recover || return 1
  [[ -n "$(pid_of_component cloudstack_injector ms)" ]] || { fail "ms not restarted"; return 1; }
  cloudstack_injector hang agent || return 1
  wait_until 5 is_stopped "$agent" || { fail "hang agent"; return 1; }
  cloudstack_injector resume agent || return 1
  [[ "$(pid_state "$agent")" != T ]] || { fail "resume agent"; return 1; }
  # db-limit / db-restore exactly as documented (the client's default socket).
  cloudstack_injector db-limit || return 1
  cloud_sql "SELECT SLEEP(20)" >/dev/null 2>&1 &
  local holder=$! err
  sleep 1
  err="$(cloud_sql "SELECT 1" 2>&1)" && { kill "$holder"; fail "db-limit: a second cloud connection was accepted"; return 1; }
  kill "$holder" 2>/dev/null; db "KILL USER cloud" 2>/dev/null || true
  grep -q "ERROR 1226" <<<"$err" || { fail "db-limit: $err"; return 1; }
  cloudstack_injector db-restore || return 1
  cloud_sql "SELECT 1" >/dev/null || { fail "db-restore"; return 1; }
  mkdir -p "$WORK/fs" && mount -t tmpfs -o size=8m kvmfi-fs "$WORK/fs"
  cloudstack_injector storage-ro "$WORK/fs" || return 1
  touch "$WORK/fs/x" 2>/dev/null && { fail "storage-ro"; return 1; }
  cloudstack_injector storage-rw "$WORK/fs" || return 1
  touch "$WORK/fs/x" || { fail "storage-rw"; return 1; }
  serve 8250
  wait_until 10 reach 8250 || { fail "no 8250 server"; return 1; }
  cloudstack_injector agent-disconnect || return 1
  reach 8250 && { fail "agent-disconnect"; return 1; }
  cloudstack_injector agent-reconnect || return 1
  reach 8250 || { fail "agent-reconnect"; return 1; }
  # api-delay MS as documented: the device of the default route; this
  # kernel may lack sch_prio/sch_netem (then exit 4 and nothing left).
  local rc=0
  cloudstack_injector api-delay 200 || rc=$?
  if [[ $rc == 0 ]]; then
    cloudstack_injector api-delay-clear || return 1
  elif [[ $rc != 4 ]]; then fail "api-delay exited $rc"; return 1; fi
  grep -q 4b46 <<<"$(tc qdisc show dev lo)" && { fail "qdisc left"; return 1; }
  cloudstack_injector -h | grep -q "sysvm-crash" || { fail "-h does not list sysvm-crash"; return 1; }
  cloudstack_injector --help | grep -q "EXIT STATUS" || { fail "--help"; return 1; }
  journal_empty
}

# --- hadoop_injector: later commands ----------------------------------------

test_netem_here() {
  # delay/loss/reorder/heartbeat need sch_prio + sch_netem (proven in the VM
  # bench, bench/scenarios/20-netem.sh); here: the path taken when they are
  # missing, or the qdisc when present, and nothing left either way.
  local rc=0 out
  out="$(hadoop_injector delay 127.0.0.1 100 2>&1)" || rc=$?
  echo "delay: rc=$rc $out"
  if [[ $rc == 4 ]]; then
    grep -q "sch_prio" <<<"$out" || { fail "no module hint: $out"; return 1; }
  elif [[ $rc == 0 ]]; then
    grep -q "delay 100ms" <<<"$(tc qdisc show dev lo)" || { fail "no netem"; return 1; }
    hadoop_injector delay-show | grep -q "delay" || { fail "delay-show"; return 1; }
    hadoop_injector delay-clear 127.0.0.1 || return 1
  else
    fail "delay exited $rc: $out"; return 1
  fi
  grep -q 4b46 <<<"$(tc qdisc show dev lo)" && { fail "qdisc left"; return 1; }
  # dry run: the exact tc commands, the band, the undo
  out="$(hadoop_injector --dry-run loss 127.0.0.1 5)"
  if ! grep -q "netem loss 5%" <<<"$out" || ! grep -q "match ip dst 127.0.0.1/32" <<<"$out"; then fail "dry run: $out"; return 1; fi
  journal_empty
}

test_isolate() {
  serve 7001; serve 7002
  wait_until 10 reach 7002 || { fail "servers"; return 1; }
  nft add table inet foreign
  nft add chain inet foreign in '{ type filter hook input priority 0; policy accept; }'
  nft add rule inet foreign in tcp dport 9 counter accept
  iptables -w -A INPUT -p tcp --dport 9 -j ACCEPT
  local before
  before="$(nft list ruleset)"
  hadoop_injector isolate 127.0.0.1 7001 || return 1
  reach 7001 && { fail "7001 still reachable"; return 1; }
  reach 7002 || { fail "7002 cut too"; return 1; }
  # by name: /etc/hosts (localhost) and cluster.conf
  printf 'master,127.0.0.1,22,NameNode\n# comment\nslave1,127.0.0.1,2201,DataNode,NodeManager\n' >"$WORK/cluster.conf"
  hadoop_injector --cluster-conf "$WORK/cluster.conf" isolate slave1 7002 || return 1
  reach 7002 && { fail "isolate slave1 7002 did not cut"; return 1; }
  hadoop_injector isolate-clear localhost || return 1
  if ! reach 7001 || ! reach 7002; then fail "isolate-clear did not restore"; return 1; fi
  [[ "$(nft list ruleset)" == "$before" ]] || { fail "isolate-clear touched other rules"; return 1; }
  die_apply hadoop_injector isolate 127.0.0.1 7001 || return 1
  reach 7001 && { fail "killed isolate not in force"; return 1; }
  hadoop_injector recover || return 1
  reach 7001 || { fail "recover did not restore"; return 1; }
  [[ "$(nft list ruleset)" == "$before" ]] || { fail "rules changed"; return 1; }
  expect_rc 2 hadoop_injector isolate no-such-node-kvmfi || return 1
  nft delete table inet foreign; iptables -w -D INPUT -p tcp --dport 9 -j ACCEPT
  journal_empty
}

test_stress() {
  local pid t0 t1
  hadoop_injector cpu-stress 127.0.0.1 60 2 || return 1
  pid=$(pgrep -f -- "--kvmfi-helper cpu") || { fail "no cpu stressor"; return 1; }
  # utime ticks (1/100 s) in 2 s; a busy shared machine gives it less than 2 CPUs
  t0=$(awk '{print $14}' "/proc/$pid/stat"); sleep 2; t1=$(awk '{print $14}' "/proc/$pid/stat")
  echo "cpu stressor utime ticks in 2s: $((t1 - t0))"
  ((t1 - t0 >= 20)) || { fail "stressor does not burn CPU ($((t1 - t0)) ticks in 2s)"; return 1; }
  hadoop_injector cpu-stress-clear || return 1
  wait_until 5 no_helpers cpu || { fail "stressor left"; return 1; }
  hadoop_injector mem-stress localhost 64 || return 1
  pid=$(pgrep -f -- "--kvmfi-helper mem") || { fail "no mem stressor"; return 1; }
  local rss
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  ((rss >= 60000)) || { fail "mem stressor holds only ${rss} kB"; return 1; }
  hadoop_injector mem-stress-clear || return 1
  wait_until 5 no_helpers mem || { fail "mem stressor left"; return 1; }
  expect_rc 1 hadoop_injector mem-stress 127.0.0.1 10000000 || return 1
  die_apply hadoop_injector cpu-stress 127.0.0.1 300 || return 1
  [[ "$(tagged_helpers cpu)" == 1 ]] || { fail "no stressor after killed apply"; return 1; }
  hadoop_injector recover || return 1
  wait_until 5 no_helpers cpu || { fail "recover left the stressor"; return 1; }
  die_apply hadoop_injector mem-stress-local 16 || return 1
  hadoop_injector recover || return 1
  wait_until 5 no_helpers mem || { fail "recover left the mem stressor"; return 1; }
  journal_empty
}

# has_fill DIR: a kvmfi fill file is in DIR.
has_fill() { compgen -G "$1/kvmfi-fill-*" >/dev/null; }
used_mb() { df -m --output=used "$1" | tail -n 1 | tr -d ' '; }

test_disk_fill() {
  mkdir -p "$WORK/fill" && mount -t tmpfs -o size=64m kvmfi-fill "$WORK/fill"
  local u0
  u0=$(used_mb "$WORK/fill")
  hadoop_injector disk-fill 127.0.0.1 20 --dir "$WORK/fill" --keep-free 8 || return 1
  (($(used_mb "$WORK/fill") - u0 >= 20)) || { fail "disk-fill took $(($(used_mb "$WORK/fill") - u0)) MB"; return 1; }
  expect_rc 1 hadoop_injector disk-fill 127.0.0.1 60 --dir "$WORK/fill" || return 1
  # hdfs-disk: the DataNode's directory from 'hdfs getconf' (a launcher
  # answering as the cluster's would).
  mkdir -p "$WORK/fill/dn"
  # shellcheck disable=SC2016 # $1 and $3 belong to the written script
  printf '#!/bin/sh\n[ "$1 $3" = "getconf dfs.datanode.data.dir" ] && echo "[DISK]file://%s/fill/dn"\n' "$WORK" >"$WORK/bin/hdfs"
  chmod +x "$WORK/bin/hdfs"
  hadoop_injector hdfs-disk localhost 10 --keep-free 8 || return 1
  has_fill "$WORK/fill/dn" || { fail "hdfs-disk did not fill the data dir"; return 1; }
  hadoop_injector disk-fill-clear || return 1
  if has_fill "$WORK/fill" || has_fill "$WORK/fill/dn"; then fail "fill files left"; return 1; fi
  die_apply hadoop_injector disk-fill 127.0.0.1 10 --dir "$WORK/fill" --keep-free 8 || return 1
  hadoop_injector recover || return 1
  has_fill "$WORK/fill" && { fail "recover left the fill file"; return 1; }
  rm -f "$WORK/bin/hdfs"
  journal_empty
}

test_tasks() {
  java -Xmx32m -cp "$STANDIN" org.apache.hadoop.mapred.YarnChild 127.0.0.1 40000 attempt_1700000000000_0001_m_000000_0 2 >"$WORK/logs/map.log" 2>&1 &
  local map=$!
  java -Xmx32m -cp "$STANDIN" org.apache.hadoop.mapred.YarnChild 127.0.0.1 40000 attempt_1700000000000_0001_r_000000_0 3 >"$WORK/logs/red.log" 2>&1 &
  local red=$!
  local am
  am=$(start_standin org.apache.hadoop.mapreduce.v2.app.MRAppMaster "$WORK/logs/am.log")
  wait_until 30 grep -q up "$WORK/logs/am.log"
  local out
  out="$(hadoop_injector list)"
  if ! grep -qP "^map\t$map\t" <<<"$out" || ! grep -qP "^reduce\t$red\t" <<<"$out" || ! grep -qP "^am\t$am\t" <<<"$out"; then
    fail "list: $out"; return 1
  fi
  hadoop_injector crash-map 127.0.0.1 || return 1
  wait_until 5 pid_gone "$map" || { fail "map task alive"; return 1; }
  [[ -e /proc/$red ]] || { fail "crash-map killed the reduce"; return 1; }
  hadoop_injector crash-reduce localhost || return 1
  wait_until 5 pid_gone "$red" || { fail "reduce task alive"; return 1; }
  hadoop_injector crash am || return 1
  wait_until 5 pid_gone "$am" || { fail "am alive"; return 1; }
  expect_rc 5 hadoop_injector crash-map 127.0.0.1 || return 1
  hadoop_injector recover || return 1
  [[ -z "$(pid_of_component hadoop_injector map)" ]] || { fail "recover restarted a task"; return 1; }
  journal_empty
}
pid_gone() { [[ ! -e "/proc/$1" || "$(pid_state "$1")" == Z ]]; }
is_stopped() { [[ "$(pid_state "$1")" == T ]]; }

test_yarn_unhealthy() {
  local m="$WORK/nm-marker"
  echo "OK-before" >"$m"
  hadoop_injector yarn-unhealthy 127.0.0.1 on --marker "$m" || return 1
  [[ "$(hadoop_injector yarn-health check --marker "$m")" == ERROR* ]] || { fail "not unhealthy"; return 1; }
  hadoop_injector yarn-unhealthy 127.0.0.1 off --marker "$m" || return 1
  [[ "$(cat "$m")" == OK-before ]] || { fail "marker not restored"; return 1; }
  journal_empty
}

test_remote() {
  write_ssh
  printf 'slave9,10.77.5.5,2222,DataNode\n' >"$WORK/cluster.conf"
  rm -f "$WORK/ssh-calls"
  hadoop_injector --cluster-conf "$WORK/cluster.conf" mem-stress slave9 32 || return 1
  grep -q -- "-p 2222 10.77.5.5 hadoop_injector mem-stress-local 32" "$WORK/ssh-calls" || { fail "ssh got: $(cat "$WORK/ssh-calls")"; return 1; }
  [[ "$(tagged_helpers mem)" == 1 ]] || { fail "no stressor on the node"; return 1; }
  grep -qP "\tmem-stress\t10.77.5.5\t" <<<"$(hadoop_injector status)" || { fail "master journal: $(hadoop_injector status)"; return 1; }
  grep -qP "\tmem-stress\tlocal\t" <<<"$(KVMFI_STATE_DIR="$WORK/remote-journal" hadoop_injector status)" || { fail "node journal"; return 1; }
  hadoop_injector --cluster-conf "$WORK/cluster.conf" mem-stress-clear slave9 || return 1
  grep -q "mem-stress-clear-local" "$WORK/ssh-calls" || { fail "no remote clear"; return 1; }
  wait_until 5 no_helpers mem || { fail "stressor left on the node"; return 1; }
  [[ -z "$(KVMFI_STATE_DIR="$WORK/remote-journal" hadoop_injector status)" ]] || { fail "node journal not empty"; return 1; }
  # killed master right after the remote apply: recover undoes it there
  die_apply hadoop_injector --cluster-conf "$WORK/cluster.conf" yarn-unhealthy slave9 on --marker "$WORK/rm-marker" || return 1
  [[ "$(cat "$WORK/rm-marker")" == ERROR ]] || { fail "remote yarn-unhealthy"; return 1; }
  hadoop_injector recover || return 1
  [[ ! -e "$WORK/rm-marker" ]] || { fail "recover left the remote marker"; return 1; }
  hadoop_injector --cluster-conf "$WORK/cluster.conf" --dry-run cpu-stress slave9 10 | grep -q "ssh.*cpu-stress-local 10" || { fail "dry run remote"; return 1; }
  rm -f "$WORK/bin/ssh"
  journal_empty
}

test_io_slow() {
  # cgroup v2 io.max: this kernel's cgroup2 may lack the io controller;
  # then a clear error (exit 4) and nothing changed.
  mkdir -p "$WORK/cg"
  mount -t cgroup2 none "$WORK/cg" || { echo "no cgroup2 here"; return 0; }
  start_standin org.apache.hadoop.hdfs.server.datanode.DataNode "$WORK/logs/dn2.log" >/dev/null
  wait_until 30 grep -q up "$WORK/logs/dn2.log"
  local rc=0
  hadoop_injector io-slow 127.0.0.1 on --cgroup-root "$WORK/cg" --device 7:0 || rc=$?
  if [[ $rc == 0 ]]; then
    ls -d "$WORK"/cg/kvmfi-io-* || { fail "no cgroup"; return 1; }
    hadoop_injector io-slow 127.0.0.1 off || return 1
    ls -d "$WORK"/cg/kvmfi-io-* 2>/dev/null && { fail "cgroup left"; return 1; }
  elif [[ $rc != 4 ]]; then fail "io-slow exited $rc"; return 1; fi
  umount "$WORK/cg"
  journal_empty
}

test_hadoop_bad_input() {
  local args
  local -a table=(
    "delay" "delay 10.0.0.1" "delay 10.0.0.1 0" "delay 10.0.0.1 60001" "delay 10.0.0.1 10 -1"
    "loss 10.0.0.1 0" "loss 10.0.0.1 101" "loss 10.0.0.1 x" "reorder 10.0.0.1 50 101" "reorder 10.0.0.1"
    "isolate 10.0.0.1 0" "isolate 10.0.0.1 65536" "isolate bad/name" "cpu-stress 127.0.0.1 0"
    "cpu-stress 127.0.0.1 86401" "mem-stress 127.0.0.1 0" "disk-fill 127.0.0.1 0" "io-slow 127.0.0.1 maybe"
    "yarn-unhealthy 127.0.0.1 sideways" "crash-map" "heartbeat 10.0.0.1 0" "delay no-such-node-kvmfi 10"
    "crash mapper" "delay 10.0.0.1 10 --dev bad/dev"
  )
  for args in "${table[@]}"; do
    # shellcheck disable=SC2086 # word splitting of the table entry is intended
    expect_rc 2 hadoop_injector $args || return 1
    [[ $(printf '%s\n' "$ERR" | wc -l) == 1 ]] || { fail "'$args': error is not one line: $ERR"; return 1; }
    echo "ok: '$args' -> $ERR"
  done
  expect_rc 3 setpriv --reuid 65534 --regid 65534 --clear-groups "$HI" isolate 127.0.0.1 || return 1
  journal_empty
}

# --- cloudstack_injector: later commands ------------------------------------

lock_wait_update() { cloud_sql "SET SESSION lock_wait_timeout=2; UPDATE vm_instance SET state='Stopped' WHERE id=1" 2>&1; }

test_db_lock() {
  cloudstack_injector db-lock || return 1
  sleep 3 # the original released at once: still held seconds later?
  local err
  err="$(lock_wait_update)" && { fail "an UPDATE went through the lock"; return 1; }
  grep -q "ERROR 1205" <<<"$err" || { fail "wrong error: $err"; return 1; }
  grep -qP "\tdb-lock\t" <<<"$(cloudstack_injector status)" || { fail "status"; return 1; }
  cloudstack_injector db-unlock || return 1
  lock_wait_update || { fail "UPDATE still blocked after db-unlock"; return 1; }
  die_apply cloudstack_injector db-lock || return 1
  lock_wait_update >/dev/null && { fail "killed db-lock not held"; return 1; }
  cloudstack_injector recover || return 1
  lock_wait_update || { fail "recover did not release the lock"; return 1; }
  expect_rc 5 cloudstack_injector db-lock --table no_such_table || return 1
  journal_empty
}

test_sysvm() {
  write_virsh
  rm -f "$WORK/virsh-calls" "$WORK/virsh-history"
  cloudstack_injector list | tee "$WORK/list2.txt"
  if ! grep -qP "^ssvm\t.*\ts-1-VM$" "$WORK/list2.txt" || ! grep -qP "^vr\t.*\tr-3-VM$" "$WORK/list2.txt"; then
    fail "list lacks system VMs"; return 1
  fi
  cloudstack_injector sysvm-crash ssvm || return 1
  [[ "$(domstate s-1-VM)" == "shut off" ]] || { fail "s-1-VM: $(domstate s-1-VM)"; return 1; }
  [[ "$(domstate v-2-VM)" == running && "$(domstate r-3-VM)" == running && "$(domstate i-2-10-VM)" == running ]] \
    || { fail "another VM was hit: $(cat "$WORK/virsh-calls")"; return 1; }
  expect_rc 5 cloudstack_injector sysvm-crash ssvm || return 1
  cloudstack_injector recover || return 1
  [[ "$(domstate s-1-VM)" == running ]] || { fail "recover did not start s-1-VM"; return 1; }
  cloudstack_injector sysvm-hang cpvm || return 1
  [[ "$(domstate v-2-VM)" == paused && "$(domstate s-1-VM)" == running ]] || { fail "sysvm-hang cpvm"; return 1; }
  cloudstack_injector sysvm-resume cpvm || return 1
  [[ "$(domstate v-2-VM)" == running ]] || { fail "sysvm-resume cpvm"; return 1; }
  cloudstack_injector hang vr || return 1
  [[ "$(domstate r-3-VM)" == paused ]] || { fail "hang vr"; return 1; }
  cloudstack_injector resume vr || return 1
  [[ "$(domstate r-3-VM)" == running ]] || { fail "resume vr"; return 1; }
  die_apply cloudstack_injector crash vr || return 1
  [[ "$(domstate r-3-VM)" == "shut off" ]] || { fail "crash vr"; return 1; }
  cloudstack_injector recover || return 1
  [[ "$(domstate r-3-VM)" == running ]] || { fail "recover after killed crash vr"; return 1; }
  grep -q "i-2-10-VM" <(grep -v "domstate\|list" "$WORK/virsh-calls") && { fail "a user VM was touched"; return 1; }
  rm -f "$WORK/bin/virsh"
  journal_empty
}

test_cs_network() {
  serve 7101; serve 7102; serve 49160
  wait_until 10 reach 49160 || { fail "servers"; return 1; }
  cloudstack_injector network 127.0.0.1 7101 || return 1
  reach 7101 && { fail "7101 reachable"; return 1; }
  reach 7102 || { fail "7102 cut too"; return 1; }
  cloudstack_injector network-clear 127.0.0.1 || return 1
  reach 7101 || { fail "network-clear"; return 1; }
  cloudstack_injector vm-migrate-fail || return 1
  reach 49160 && { fail "migration port reachable"; return 1; }
  reach 7102 || { fail "vm-migrate-fail cut other ports"; return 1; }
  cloudstack_injector vm-op-clear || return 1
  reach 49160 || { fail "vm-op-clear"; return 1; }
  wait_until 10 reach 8250 || { serve 8250; wait_until 10 reach 8250; }
  cloudstack_injector agent-disconnect 127.0.0.1 || return 1
  reach 8250 && { fail "agent-disconnect IP"; return 1; }
  cloudstack_injector agent-reconnect 127.0.0.1 || return 1
  reach 8250 || { fail "agent-reconnect IP"; return 1; }
  die_apply cloudstack_injector network 127.0.0.1 || return 1
  reach 7102 && { fail "killed network not in force"; return 1; }
  cloudstack_injector recover || return 1
  reach 7102 || { fail "recover"; return 1; }
  journal_empty
}

test_storage() {
  truncate -s 64M "$WORK/ext.img"
  mkfs.ext4 -q -F "$WORK/ext.img"
  LOOP=$(losetup -f --show "$WORK/ext.img") || { echo "no loop devices here"; return 0; }
  mkdir -p "$WORK/ext" && mount -o nosuid "$LOOP" "$WORK/ext"
  echo data >"$WORK/ext/primary.txt"
  cloudstack_injector storage-umount "$WORK/ext" || return 1
  mountpoint -q "$WORK/ext" && { fail "still mounted"; return 1; }
  [[ -e "$WORK/ext/primary.txt" ]] && { fail "file visible after umount"; return 1; }
  cloudstack_injector recover || return 1
  [[ "$(cat "$WORK/ext/primary.txt")" == data ]] || { fail "recover did not mount it again"; return 1; }
  grep -q nosuid <<<"$(findmnt -no OPTIONS "$WORK/ext")" || { fail "options lost"; return 1; }
  die_apply cloudstack_injector storage-umount "$WORK/ext" || return 1
  cloudstack_injector recover || return 1
  [[ "$(cat "$WORK/ext/primary.txt")" == data ]] || { fail "recover after killed umount"; return 1; }
  expect_rc 1 cloudstack_injector storage-umount "$WORK/fs" || return 1 # tmpfs: refused
  # storage-fill: the file system is full (ENOSPC), storage-clean frees it
  cloudstack_injector storage-fill "$WORK/ext" || return 1
  local err
  err="$(dd if=/dev/zero of="$WORK/ext/new" bs=1M count=4 2>&1)" && { fail "write fit after storage-fill"; return 1; }
  grep -q "No space left" <<<"$err" || { fail "wrong error: $err"; return 1; }
  rm -f "$WORK/ext/new"
  cloudstack_injector storage-clean "$WORK/ext" || return 1
  dd if=/dev/zero of="$WORK/ext/new" bs=1M count=4 2>/dev/null || { fail "storage-clean did not free space"; return 1; }
  rm -f "$WORK/ext/new"
  die_apply cloudstack_injector storage-fill "$WORK/ext" --size 8 || return 1
  cloudstack_injector recover || return 1
  has_fill "$WORK/ext" && { fail "fill file left"; return 1; }
  umount "$WORK/ext"; losetup -d "$LOOP"; LOOP=""
  journal_empty
}

test_cs_stress() {
  cloudstack_injector cpu-stress 30 1 || return 1
  [[ "$(tagged_helpers cpu)" == 1 ]] || { fail "no cpu stressor"; return 1; }
  cloudstack_injector mem-stress 32 || return 1
  [[ "$(tagged_helpers mem)" == 1 ]] || { fail "no mem stressor"; return 1; }
  cloudstack_injector mem-stress-clear || return 1
  wait_until 5 no_helpers mem || { fail "mem stressor left"; return 1; }
  cloudstack_injector recover || return 1
  wait_until 5 no_helpers cpu || { fail "cpu stressor left"; return 1; }
  journal_empty
}

test_cs_bad_input() {
  local args
  local -a table=(
    "sysvm-crash xyz" "sysvm-hang" "network 127.0.0.1 0" "network 300.1.1.1" "db-lock --table x'y"
    "storage-fill /nonexistent/x" "storage-fill /tmp --size 0" "cpu-stress 0" "cpu-stress 86401"
    "mem-stress 0" "vm-migrate-fail --ports 5-1" "vm-migrate-fail --ports x" "agent-disconnect 300.1.1.1"
    "storage-umount /nonexistent/x" "crash vx"
  )
  for args in "${table[@]}"; do
    # shellcheck disable=SC2086 # word splitting of the table entry is intended
    expect_rc 2 cloudstack_injector $args || return 1
    [[ $(printf '%s\n' "$ERR" | wc -l) == 1 ]] || { fail "'$args': error is not one line: $ERR"; return 1; }
    echo "ok: '$args' -> $ERR"
  done
  journal_empty
}

main() {
  start_mariadb
  local t
  for t in hadoop_documented cloudstack_documented netem_here isolate stress disk_fill tasks yarn_unhealthy \
           remote io_slow hadoop_bad_input db_lock sysvm cs_network storage cs_stress cs_bad_input; do
    run_test "$t"
  done
}

main "$@"
