#!/usr/bin/env bash
# The cloudstack_injector suite. Runs inside its own pid, network and mount
# namespaces (run.sh starts it with unshare): a real MariaDB on 127.0.0.1
# (private to this namespace), stand-in JVMs with the exact main classes of
# the management server, agent and usage server, and tmpfs primary storage.
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-cs.XXXXXX)"
export WORK
SUITE=cloudstack
mkdir -p "$WORK/logs"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
export KVMFI_STATE_DIR="$WORK/journal"
CI_="$BIN_DIR/cloudstack_injector"
RUN="$WORK/run"
SOCK="$RUN/mysql.sock"
DBPORT=13306

cleanup() {
  jobs -p | xargs -r kill -9 2>/dev/null || true
  umount -l "$WORK/other" "$WORK/primary" 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

ip link set lo up
chmod 755 "$WORK"

db() { mariadb --socket="$SOCK" --batch --skip-column-names -e "$1"; }
cloud_sql() { mariadb --protocol=TCP -h 127.0.0.1 -P "$DBPORT" -u cloud -pcloudpw cloud --batch --skip-column-names -e "$1"; }
db_up() { db "SELECT 1"; }
component_gone() { [[ -z "$(pid_of_component cloudstack_injector "$1")" ]]; }
is_stopped() { [[ "$(pid_state "$1")" == T ]]; }

start_mariadb() {
  local t0=$SECONDS
  mkdir -p "$RUN" && chown mysql:mysql "$RUN"
  mariadb-install-db --user=mysql --datadir="$WORK/db" --auth-root-authentication-method=socket \
    >"$WORK/logs/install-db.log" 2>&1
  mariadbd --no-defaults --user=mysql --datadir="$WORK/db" --socket="$SOCK" --pid-file="$RUN/db.pid" \
    --bind-address=127.0.0.1 --port=$DBPORT --skip-name-resolve >"$WORK/logs/mariadbd.log" 2>&1 &
  wait_until 30 db_up || { echo "RESULT FAIL mariadb-start not up in 30s"; tail "$WORK/logs/mariadbd.log" >&2; exit 1; }
  db "CREATE DATABASE cloud;
      CREATE USER 'cloud'@'127.0.0.1' IDENTIFIED BY 'cloudpw';
      GRANT ALL ON cloud.* TO 'cloud'@'127.0.0.1';
      CREATE USER 'cloud'@'localhost' IDENTIFIED BY 'cloudpw' WITH MAX_USER_CONNECTIONS 7;
      GRANT ALL ON cloud.* TO 'cloud'@'localhost';
      SET GLOBAL max_connections = 123;"
  echo "RESULT PASS mariadb-start ($((SECONDS - t0))s)"
}

limits() { db "SELECT @@GLOBAL.max_connections; SELECT CONCAT(Host,'=',max_user_connections) FROM mysql.user WHERE User='cloud' ORDER BY Host" | tr '\n' ' '; }
ORIG_LIMITS=""

# hold_cloud N [TRIES]: TRIES (default N) cloud connections that sleep 60 s,
# at least N of which must be accepted; pids in HOLDERS.
HOLDERS=()
hold_cloud() {
  local i
  for ((i = 0; i < ${2:-$1}; i++)); do
    cloud_sql "SELECT SLEEP(60)" >/dev/null 2>&1 &
    HOLDERS+=($!)
  done
  wait_until 15 cloud_sessions_at_least "$1" || { fail "only $(cloud_sessions) of $1 cloud sessions came up"; return 1; }
}
a_holder_exited() {
  local p
  for p in "${HOLDERS[@]}"; do kill -0 "$p" 2>/dev/null || return 0; done
  return 1
}
cloud_sessions() { db "SELECT COUNT(*) FROM information_schema.processlist WHERE User='cloud'"; }
cloud_sessions_at_least() { (($(cloud_sessions) >= $1)); }
no_cloud_sessions() { (($(cloud_sessions) == 0)); }
release_cloud() {
  local id
  if ((${#HOLDERS[@]})); then kill "${HOLDERS[@]}" 2>/dev/null || true; fi
  HOLDERS=()
  # A sleeping query outlives its client: end the sessions on the server.
  for id in $(db "SELECT ID FROM information_schema.processlist WHERE User='cloud'"); do
    db "KILL CONNECTION $id" 2>/dev/null || true
  done
  wait_until 10 no_cloud_sessions || true
}

# --- tests -----------------------------------------------------------------

test_db_limit_user() {
  local err
  ORIG_LIMITS="$(limits)"
  echo "before: $ORIG_LIMITS"
  "$CI_" db-limit --db-socket "$SOCK" || return 1
  hold_cloud 1 || return 1
  err="$(cloud_sql "SELECT 1" 2>&1)" && { release_cloud; fail "a second cloud connection was accepted"; return 1; }
  release_cloud
  grep -q "ERROR 1226" <<<"$err" || { fail "wrong error: $err"; return 1; }
  "$CI_" db-restore --db-socket "$SOCK" || return 1
  [[ "$(limits)" == "$ORIG_LIMITS" ]] || { fail "not restored exactly: $(limits) vs $ORIG_LIMITS"; return 1; }
  hold_cloud 1 || return 1
  cloud_sql "SELECT 1" >/dev/null || { release_cloud; fail "second connection fails after restore"; return 1; }
  release_cloud
  journal_empty
}

test_db_limit_global() {
  local err
  "$CI_" db-limit --max-connections 5 --db-socket "$SOCK" || return 1
  [[ "$(db "SELECT @@GLOBAL.max_connections")" == 10 ]] || { fail "max_connections not lowered"; return 1; }
  # 12 sessions for 10 slots, and no polling by root meanwhile (it would
  # take a slot too). The first client refused proves the server full, with
  # ten sessions that sleep on: then one more must be refused too.
  local i
  for ((i = 0; i < 12; i++)); do
    cloud_sql "SELECT SLEEP(60)" >/dev/null 2>&1 &
    HOLDERS+=($!)
  done
  wait_until 30 a_holder_exited || { release_cloud; fail "all 12 sessions of 10 slots were accepted"; return 1; }
  err="$(cloud_sql "SELECT 1" 2>&1)" && { release_cloud; fail "an 11th connection was accepted"; return 1; }
  release_cloud
  grep -q "ERROR 1040" <<<"$err" || { fail "wrong error: $err"; return 1; }
  # A second db-limit must not overwrite the remembered originals.
  expect_rc 1 "$CI_" db-limit --db-socket "$SOCK" || return 1
  "$CI_" db-restore || return 1
  [[ "$(limits)" == "$ORIG_LIMITS" ]] || { fail "not restored exactly: $(limits)"; return 1; }
  journal_empty
}

test_killed_db_limit() {
  die_apply "$CI_" db-limit --user-connections 2 --max-connections 50 --db-socket "$SOCK" || return 1
  [[ "$(limits)" == "50 127.0.0.1=2 localhost=2 " ]] || { fail "limits not applied: $(limits)"; return 1; }
  "$CI_" recover || return 1
  [[ "$(limits)" == "$ORIG_LIMITS" ]] || { fail "recover did not restore: $(limits)"; return 1; }
  [[ -z "$("$CI_" recover)" ]] || { fail "second recover not a no-op"; return 1; }
  journal_empty
}

test_db_errors() {
  expect_rc 5 "$CI_" db-limit --db-socket "$WORK/nope.sock" || return 1
  expect_rc 5 "$CI_" db-limit --db-user nobodyhere --db-socket "$SOCK" || return 1
  expect_rc 4 env PATH="$WORK/emptybin" "$CI_" db-limit --db-socket "$SOCK" || return 1
  grep -q "mariadb-client" <<<"$ERR" || { fail "no install hint: $ERR"; return 1; }
  [[ "$(limits)" == "$ORIG_LIMITS" ]] || { fail "limits changed"; return 1; }
  journal_empty
}

test_crash_mysql() {
  local pid new
  pid="$(pid_of_component cloudstack_injector mysql)"
  [[ -n "$pid" ]] || { fail "mysql not listed"; return 1; }
  "$CI_" crash mysql || return 1
  wait_until 10 component_gone mysql || { fail "mariadbd still there"; return 1; }
  db_up 2>/dev/null && { fail "database still answers"; return 1; }
  "$CI_" recover || return 1
  wait_until 30 db_up || { fail "mariadbd not back after recover"; return 1; }
  new="$(pid_of_component cloudstack_injector mysql)"
  [[ -n "$new" && "$new" != "$pid" ]] || { fail "no new mariadbd"; return 1; }
  cloud_sql "SELECT 1" >/dev/null || { fail "cloud cannot connect after restart"; return 1; }
  journal_empty
}

test_standins() {
  local ms agent usage
  ms=$(start_standin org.apache.cloudstack.ServerDaemon "$WORK/logs/ms.log")
  agent=$(start_standin com.cloud.agent.AgentShell "$WORK/logs/agent.log")
  usage=$(start_standin com.cloud.usage.UsageServer "$WORK/logs/usage.log")
  wait_until 20 grep -q up "$WORK/logs/usage.log"
  "$CI_" list || return 1
  [[ "$(pid_of_component cloudstack_injector ms)" == "$ms" ]] || { fail "ms not found"; return 1; }
  [[ "$(pid_of_component cloudstack_injector agent)" == "$agent" ]] || { fail "agent not found"; return 1; }
  [[ "$(pid_of_component cloudstack_injector usage)" == "$usage" ]] || { fail "usage not found"; return 1; }
  "$CI_" list --json | python3 -c 'import json,sys; c={json.loads(l)["component"] for l in sys.stdin}; assert {"ms","agent","usage","mysql"} <= c, c' \
    || { fail "list --json"; return 1; }
  "$CI_" hang agent || return 1
  wait_until 5 is_stopped "$agent" || { fail "agent not stopped"; return 1; }
  "$CI_" resume agent || return 1
  [[ "$(pid_state "$agent")" != T ]] || { fail "agent not resumed"; return 1; }
  die_apply "$CI_" hang usage || return 1
  # A JVM's group stop completes once all its threads stopped: poll.
  wait_until 5 is_stopped "$usage" || { fail "usage not stopped"; return 1; }
  "$CI_" recover || return 1
  [[ "$(pid_state "$usage")" != T ]] || { fail "recover did not resume usage"; return 1; }
  die_apply "$CI_" crash ms || return 1
  wait_until 5 component_gone ms || { fail "ms not killed"; return 1; }
  "$CI_" recover || return 1
  [[ -n "$(pid_of_component cloudstack_injector ms)" ]] || { fail "ms not restarted"; return 1; }
  expect_rc 5 "$CI_" hang libvirt || return 1
  expect_rc 5 "$CI_" crash nfs || return 1
  journal_empty
}

test_storage_ro() {
  mkdir -p "$WORK/primary" "$WORK/other"
  mount -t tmpfs -o size=8m,nosuid kvmfi-primary "$WORK/primary"
  mount --bind "$WORK/primary" "$WORK/other"
  "$CI_" storage-ro "$WORK/primary" || return 1
  local err
  err="$(touch "$WORK/primary/x" 2>&1)" && { fail "write succeeded on read-only storage"; return 1; }
  grep -q "Read-only file system" <<<"$err" || { fail "wrong error: $err"; return 1; }
  touch "$WORK/other/y" || { fail "another mount of the same fs became read-only"; return 1; }
  grep -q "nosuid" <<<"$(findmnt -no OPTIONS "$WORK/primary")" || { fail "nosuid lost"; return 1; }
  "$CI_" storage-rw "$WORK/primary" || return 1
  touch "$WORK/primary/x" || { fail "still read-only after storage-rw"; return 1; }
  grep -q "nosuid" <<<"$(findmnt -no OPTIONS "$WORK/primary")" || { fail "nosuid lost after rw"; return 1; }
  die_apply "$CI_" storage-ro "$WORK/primary/" || return 1
  touch "$WORK/primary/z" 2>/dev/null && { fail "not read-only after killed apply"; return 1; }
  "$CI_" recover || return 1
  touch "$WORK/primary/z" || { fail "recover left it read-only"; return 1; }
  journal_empty
}

test_storage_errors() {
  mkdir -p "$WORK/plain"
  if command -v exportfs >/dev/null; then
    expect_rc 2 "$CI_" storage-ro "$WORK/plain" || return 1
  else
    expect_rc 4 "$CI_" storage-ro "$WORK/plain" || return 1
    grep -q "nfs-kernel-server" <<<"$ERR" || { fail "no install hint: $ERR"; return 1; }
  fi
  expect_rc 2 "$CI_" storage-ro "$WORK/does-not-exist" || return 1
  journal_empty
}

test_api_delay() {
  local rc=0 out
  out="$("$CI_" api-delay 100 --dev lo 2>&1)" || rc=$?
  echo "api-delay: rc=$rc $out"
  if [[ $rc == 4 ]]; then
    # This kernel has no sch_netem: a clear message, and nothing left behind.
    grep -q "sch_netem" <<<"$out" || { fail "no module hint: $out"; return 1; }
    grep -q "4b46" <<<"$(tc qdisc show dev lo)" && { fail "kvmfi qdisc left on lo"; return 1; }
    journal_empty || { fail "journal not empty after the failed apply"; return 1; }
    echo "# no sch_netem here: only the error path and rollback were checked" >&2
  elif [[ $rc == 0 ]]; then
    grep -q "netem" <<<"$(tc qdisc show dev lo)" || { fail "no netem qdisc"; return 1; }
    "$CI_" api-delay-clear || return 1
    grep -q "4b46" <<<"$(tc qdisc show dev lo)" && { fail "qdisc left after clear"; return 1; }
    journal_empty || return 1
  else
    fail "api-delay exited $rc: $out"; return 1
  fi
  # A root qdisc that kvmfi did not create is never replaced.
  if tc qdisc add dev lo root handle 1: tbf rate 1gbit burst 64k latency 50ms 2>/dev/null; then
    expect_rc 1 "$CI_" api-delay 100 --dev lo || { tc qdisc del dev lo root; return 1; }
    grep -q "tbf 1:" <<<"$(tc qdisc show dev lo)" || { fail "foreign qdisc touched"; return 1; }
    tc qdisc del dev lo root
  fi
  expect_rc 4 env PATH="$WORK/emptybin" "$CI_" api-delay 100 --dev lo || return 1
  journal_empty
}

test_not_root() {
  expect_rc 3 setpriv --reuid 65534 --regid 65534 --clear-groups "$CI_" db-limit --db-socket "$SOCK" || return 1
  expect_rc 3 setpriv --reuid 65534 --regid 65534 --clear-groups "$CI_" agent-disconnect || return 1
  [[ "$(limits)" == "$ORIG_LIMITS" ]]
}

test_bad_input() {
  local args
  local -a table=(
    "crash vx" "hang" "api-delay" "api-delay -5" "api-delay 0" "api-delay 60001" "api-delay 1e3"
    "api-delay 99999999999999999999" "api-delay 100 --dev bad/dev" "api-delay 100 --port 0"
    "db-limit --user-connections 0" "db-limit --max-connections -1" "db-limit --user-connections 100001"
    "db-limit --db-user x'y" "db-limit --db-port 70000" "storage-ro" "storage-ro /nonexistent/x"
    "agent-disconnect --port 65536" "recover abc" "status --frob" "list extra" ""
  )
  for args in "${table[@]}"; do
    # shellcheck disable=SC2086 # word splitting of the table entry is intended
    expect_rc 2 "$CI_" $args || return 1
    [[ $(printf '%s\n' "$ERR" | wc -l) == 1 ]] || { fail "'$args': error is not one line: $ERR"; return 1; }
    echo "ok: '$args' -> $ERR"
  done
  [[ "$(limits)" == "$ORIG_LIMITS" ]] || { fail "limits changed"; return 1; }
  journal_empty
}

main() {
  mkdir -p "$WORK/emptybin"
  start_mariadb
  ORIG_LIMITS="$(limits)"
  local t
  for t in bad_input not_root db_limit_user db_limit_global killed_db_limit db_errors crash_mysql \
           standins storage_ro storage_errors api_delay; do
    run_test "$t"
  done
}

main "$@"
