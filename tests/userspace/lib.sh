# shellcheck shell=bash
# Helpers shared by the suites of tests/userspace (sourced, never run).
# Each test is a function that returns 0 or calls `fail REASON; return 1`.
# Results go to stdout as `RESULT PASS name` / `RESULT FAIL name reason`.

CACHE="${KVMFI_CACHE:-/var/cache/kvmfi}"
# shellcheck disable=SC2034 # JARS and STANDIN are used by the suites that source this file
JARS="$CACHE/hadoop/pyspark-2.4.8/deps/jars"
STANDIN="$CACHE/standin/classes"
: "${BIN_DIR:?BIN_DIR must name the directory of the built tools}"

REASON=""
fail() { REASON="$*"; }
log() { echo "# $*" >&2; }

# run_test NAME: runs test_NAME, prints its RESULT line with its duration.
run_test() {
  local name="$1" start end
  REASON=""
  start=$(date +%s.%N)
  if "test_$name" >"$WORK/logs/test_$name.out" 2>&1; then
    end=$(date +%s.%N)
    printf 'RESULT PASS %s (%.1fs)\n' "${SUITE:+$SUITE/}$name" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')"
  else
    [[ -n "$REASON" ]] || REASON="$(tail -n 1 "$WORK/logs/test_$name.out")"
    echo "RESULT FAIL ${SUITE:+$SUITE/}$name $REASON"
    sed 's/^/#   /' "$WORK/logs/test_$name.out" | tail -n 15 >&2
  fi
}

# wait_until SECONDS CMD...: polls CMD every 0.5 s; false on timeout.
wait_until() {
  local limit="$1"; shift
  local deadline=$((SECONDS + limit))
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# expect_rc CODE CMD...: runs CMD, checks its exit status, keeps stderr in $ERR.
expect_rc() {
  local want="$1"; shift
  local got=0
  ERR="$("$@" 2>&1 >/dev/null)" || got=$?
  if [[ "$got" != "$want" ]]; then
    fail "'$*' exited $got, wanted $want: $ERR"
    return 1
  fi
}

# journal_empty: nothing in force for any tool.
journal_empty() {
  local s
  s="$("$BIN_DIR/hadoop_injector" status --all)"
  [[ -z "$s" ]] || { fail "still in force: $s"; return 1; }
}

# die_apply CMD...: runs an injector with the test hook that makes it
# SIGKILL itself right after applying; it must die (status 137).
die_apply() {
  local rc=0
  KVMFI_TEST_DIE_AFTER_APPLY=1 "$@" || rc=$?
  [[ $rc == 137 ]] || { fail "'$*' with the die hook exited $rc, wanted 137 (killed)"; return 1; }
}

# pid_state PID: the state letter of /proc/PID/stat.
pid_state() {
  sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1
}

# start_standin CLASS LOG: starts a stand-in JVM with that main class.
start_standin() {
  java -Xmx32m -XX:TieredStopAtLevel=1 -cp "$STANDIN" "$1" >"$2" 2>&1 &
  echo $!
}

# pids_of CLASS: pids whose java main class is CLASS (via the tool's list).
pid_of_component() {
  "$BIN_DIR/$1" list | awk -F'\t' -v c="$2" '$1 == c { print $2 }'
}
