#!/usr/bin/env bash
# Crash safety of the journaled user-space faults, by random kill -9.
#
# Runs inside its own pid, network and mount namespaces (run.sh starts it with
# unshare). Each trial picks a fault type of hadoop_injector or
# cloudstack_injector at random and one of:
#   apply: starts the injector, sends SIGKILL at a random point of its run
#          (so it dies before, while or after it journals and applies);
#   undo:  applies the fault fully, starts `recover --all`, sends SIGKILL to
#          it at a random point of its run;
# and in one trial in TORN_EVERY it then also tears the journal: a random
# prefix of its last record is appended without a newline, as a kill during
# write(2) leaves it. Then `recover --all` must succeed, the namespace's
# state must be exactly what it was before the trial, nothing may be in force
# and a second recover must print nothing.
#
# State compared: nft ruleset, iptables rules, qdiscs, the storage mount's
# options, the NodeManager health marker's content, the storage file system's
# files, the stand-in daemon (argv and state letter: a crash restarts it with
# a new pid) and the tagged stress helpers.
#
# Stand-ins, so that a trial takes well under a second: the database is a
# copy of sleep named mariadbd (cloudstack_injector's `mysql` component is
# found by command name, as the real one is); storage is a tmpfs; peers are
# addresses nobody answers on. The real daemons' versions of these faults
# are proven in the hadoop, cloudstack and compat suites (one kill each, at a
# fixed point: KVMFI_TEST_DIE_AFTER_APPLY).
#
# TRIALS (default 100; `make soak` runs 1000), MAX_MS (default 500: the
# kill comes after a random 0..T ms, T the fault's own apply or recover time
# measured once at the start, at most MAX_MS),
# TORN_EVERY (default 7), SEED (default: random; printed). Counts per fault
# type go to $CRASHSAFETY_LOG (TSV) for RELIABILITY.md.
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-crashsafety.XXXXXX)"
export WORK
SUITE=crashsafety
mkdir -p "$WORK/logs" "$WORK/bin" "$WORK/storage"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
export KVMFI_STATE_DIR="$WORK/journal"
HI="$BIN_DIR/hadoop_injector"
CI="$BIN_DIR/cloudstack_injector"
TRIALS="${TRIALS:-100}"
MAX_MS="${MAX_MS:-500}"
TORN_EVERY="${TORN_EVERY:-7}"
SEED="${SEED:-$((RANDOM * 32768 + RANDOM))}"
LOG_OUT="${CRASHSAFETY_LOG:-$CACHE/logs/crashsafety-$TRIALS.tsv}"
mkdir -p "$(dirname "$LOG_OUT")"
MARKER="$WORK/nm-health"

cleanup() {
  { jobs -p | xargs -r kill -9; wait; } 2>/dev/null || true
  umount -l "$WORK/storage" 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM
ip link set lo up

# The fault types: name :: command. Every one is journaled with its undo.
FAULTS='
hadoop-yarn-health :: HI yarn-health fail --marker @MARKER@
hadoop-network :: HI network 10.98.0.7
hadoop-isolate-port :: HI isolate 10.98.0.8 50010
hadoop-cpu-stress :: HI cpu-stress 127.0.0.1 60 1
cloudstack-hang :: CI hang mysql
cloudstack-crash :: CI crash mysql
cloudstack-agent-disconnect :: CI agent-disconnect
cloudstack-network-port :: CI network 10.98.0.9 8080
cloudstack-vm-migrate-fail :: CI vm-migrate-fail
cloudstack-storage-ro :: CI storage-ro @STORAGE@
cloudstack-storage-fill :: CI storage-fill @STORAGE@ --size 1
cloudstack-mem-stress :: CI mem-stress 4
'

snapshot() {
  echo "== nft"; nft list ruleset 2>&1
  echo "== iptables"; iptables-save 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' || true
  echo "== tc"; tc qdisc show 2>&1
  echo "== storage"; findmnt -rn -o OPTIONS "$WORK/storage"; find "$WORK/storage" -mindepth 1 -printf '%P %s %m\n' | sort
  echo "== marker"; if [[ -e "$MARKER" ]]; then cat "$MARKER"; else echo absent; fi
  echo "== daemon"; ps -C mariadbd -o stat=,args= | awk '{ s = substr($1, 1, 1); $1 = ""; print s $0 }'
  echo "== helpers"; pgrep -af -- '--kvmfi-tag' || true
}

start_db() {
  # The stand-in database: a copy of sleep named mariadbd, in its own dir.
  # Not a job of this shell (the crash kills it; we are pid 1 of the namespace).
  (cd "$WORK" && setsid -f "$WORK/bin/mariadbd" 1000000 >/dev/null 2>&1 </dev/null)
  wait_until 5 pgrep -x mariadbd
}

# One line of $FAULTS, with placeholders filled, as an argv.
fault_argv() {
  local line="$1" cmd
  cmd="${line#* :: }"
  cmd="${cmd//@MARKER@/$MARKER}"; cmd="${cmd//@STORAGE@/$WORK/storage}"
  cmd="${cmd/#HI /$HI }"; cmd="${cmd/#CI /$CI }"
  printf '%s' "$cmd"
}

# sleep_ms N: sleeps N milliseconds.
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# tear: appends a random prefix of the journal's last record, no newline.
tear() {
  local j="$KVMFI_STATE_DIR/journal.jsonl" last n
  [[ -s "$j" ]] || { printf '{"op":"beg' >>"$j"; return; }
  last="$(tail -n 1 "$j")"
  n=$((RANDOM % ${#last}))
  printf '%s' "${last:0:n}" >>"$j"
}

declare -A T_PENDING=() T_TRIALS=() T_KILLED=() T_DONE=() T_UNDO=() T_TORN=() T_FAIL=()
FAILURES=0
FIRST=""

trial() {
  local i="$1" line name argv mode ms before after rc=0 torn=0 pid
  line="${FAULT_LINES[RANDOM % ${#FAULT_LINES[@]}]}"
  name="${line%% :: *}"
  argv="$(fault_argv "$line")"
  mode=apply; ((RANDOM % 10 < 3)) && mode=undo
  # A random point within this fault's own run time (measured once), so
  # that kills land in the middle of the run, not only after it.
  local span="${DUR_APPLY[$name]}"
  [[ $mode == undo ]] && span="${DUR_UNDO[$name]}"
  ((span <= MAX_MS)) || span=$MAX_MS
  ms=$((RANDOM % (span + 1)))
  before="$(snapshot)"
  local -a words
  read -ra words <<<"$argv"
  if [[ $mode == apply ]]; then
    "${words[@]}" >/dev/null 2>>"$WORK/logs/injector.err" &
  else
    "${words[@]}" >/dev/null 2>>"$WORK/logs/injector.err" || { trial_fail "$name" "$i $name: apply failed (exit $?)"; return; }
    "$HI" recover --all >/dev/null 2>>"$WORK/logs/injector.err" &
  fi
  pid=$!
  sleep_ms "$ms"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || rc=$?
  # Killed between journaling the change and confirming it ("pending").
  grep -q $'\tpending\t' <<<"$("$HI" status --all 2>/dev/null)" && T_PENDING[$name]=$((${T_PENDING[$name]:-0} + 1))
  if ((RANDOM % TORN_EVERY == 0)); then tear; torn=1; fi
  T_TRIALS[$name]=$((${T_TRIALS[$name]:-0} + 1))
  [[ $mode == undo ]] && T_UNDO[$name]=$((${T_UNDO[$name]:-0} + 1))
  if [[ $rc == 137 ]]; then T_KILLED[$name]=$((${T_KILLED[$name]:-0} + 1)); else T_DONE[$name]=$((${T_DONE[$name]:-0} + 1)); fi
  ((torn)) && T_TORN[$name]=$((${T_TORN[$name]:-0} + 1))
  "$HI" recover --all >/dev/null 2>>"$WORK/logs/injector.err" || { trial_fail "$name" "$i $name ($mode, ${ms}ms, rc $rc, torn $torn): recover failed: $(tail -n 1 "$WORK/logs/injector.err")"; return; }
  # A crashed daemon is started again detached: give it a moment to exist.
  [[ $name == cloudstack-crash ]] && wait_until 5 pgrep -x mariadbd
  # A stopped process turns running again once SIGCONT is delivered.
  after="$(snapshot)"
  if [[ "$after" != "$before" ]]; then
    sleep 0.2; after="$(snapshot)"
  fi
  if [[ "$after" != "$before" ]]; then
    trial_fail "$name" "$i $name ($mode, ${ms}ms, rc $rc, torn $torn): state differs: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -4 | tr '\n' ' ')"
    return
  fi
  [[ -z "$("$HI" status --all)" ]] || { trial_fail "$name" "$i $name: still in force after recover: $("$HI" status --all)"; return; }
  [[ -z "$("$HI" recover --all 2>&1)" ]] || { trial_fail "$name" "$i $name: a second recover was not a no-op"; return; }
  echo "trial $i $name $mode ${ms}ms rc=$rc torn=$torn ok" >&2
}

# trial_fail NAME MESSAGE: counts a failed trial of fault NAME.
trial_fail() {
  local name="$1"
  shift
  FAILURES=$((FAILURES + 1))
  echo "FAIL trial $*" >&2
  [[ -n "$FIRST" ]] || FIRST="$*"
  T_FAIL[$name]=$((${T_FAIL[$name]:-0} + 1))
  # Leave a clean slate for the next trial.
  "$HI" recover --all >/dev/null 2>&1 || true
  pgrep -x mariadbd >/dev/null || start_db || true
}

declare -A DUR_APPLY=() DUR_UNDO=()

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# calibrate: each fault applied and recovered once; their times in ms.
calibrate() {
  local line name t0 t1 t2
  local -a words
  for line in "${FAULT_LINES[@]}"; do
    name="${line%% :: *}"
    read -ra words <<<"$(fault_argv "$line")"
    t0=$(now_ms)
    "${words[@]}" >/dev/null 2>>"$WORK/logs/injector.err" || { echo "RESULT FAIL $SUITE/calibrate $name did not apply: $(tail -n 1 "$WORK/logs/injector.err")"; return 1; }
    t1=$(now_ms)
    "$HI" recover --all >/dev/null 2>>"$WORK/logs/injector.err" || { echo "RESULT FAIL $SUITE/calibrate $name did not recover"; return 1; }
    t2=$(now_ms)
    DUR_APPLY[$name]=$((t1 - t0 + 5)); DUR_UNDO[$name]=$((t2 - t1 + 5))
    [[ $name == cloudstack-crash ]] && wait_until 5 pgrep -x mariadbd
    log "calibrate $name: apply ${DUR_APPLY[$name]} ms, recover ${DUR_UNDO[$name]} ms"
  done
}

main() {
  cp "$(command -v sleep)" "$WORK/bin/mariadbd"
  mount -t tmpfs -o size=16m,mode=0755 kvmfi-cs "$WORK/storage"
  echo "healthy" >"$MARKER"
  start_db || { echo "RESULT FAIL $SUITE/setup the stand-in database did not start"; return; }
  mapfile -t FAULT_LINES < <(sed -e '/^[[:space:]]*$/d' <<<"$FAULTS")
  calibrate || return 0
  RANDOM=$SEED
  log "$TRIALS trials, kill at a random point of each run (at most ${MAX_MS} ms), torn journal every ~${TORN_EVERY}, seed $SEED"
  local start=$SECONDS i
  for ((i = 1; i <= TRIALS; i++)); do
    trial "$i"
  done
  local name k=0 d=0 u=0 t=0 p=0
  printf 'fault\ttrials\tkilled_mid_run\tfinished_before_kill\tkill_during_undo\tleft_pending\ttorn_journal\tfailed\n' >"$LOG_OUT"
  for name in $(printf '%s\n' "${!T_TRIALS[@]}" | sort); do
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${T_TRIALS[$name]}" "${T_KILLED[$name]:-0}" "${T_DONE[$name]:-0}" \
      "${T_UNDO[$name]:-0}" "${T_PENDING[$name]:-0}" "${T_TORN[$name]:-0}" "${T_FAIL[$name]:-0}" >>"$LOG_OUT"
    p=$((p + ${T_PENDING[$name]:-0}))
    k=$((k + ${T_KILLED[$name]:-0})); d=$((d + ${T_DONE[$name]:-0})); u=$((u + ${T_UNDO[$name]:-0})); t=$((t + ${T_TORN[$name]:-0}))
  done
  printf '# seed %s, %s trials in %ss: %s killed mid-run, %s finished before the kill, %s kills during recover, %s left a pending (journaled, unconfirmed) fault, %s torn journals\n' \
    "$SEED" "$TRIALS" "$((SECONDS - start))" "$k" "$d" "$u" "$p" "$t" >>"$LOG_OUT"
  log "$(tail -n 1 "$LOG_OUT")"
  if ((FAILURES == 0)); then
    echo "RESULT PASS $SUITE/kill9-$TRIALS-trials ($k killed mid-run, $u during recover, $t torn; $((SECONDS - start))s)"
  else
    echo "RESULT FAIL $SUITE/kill9-$TRIALS-trials $FAILURES of $TRIALS trials failed (seed $SEED); first: $FIRST"
  fi
}

main "$@"
