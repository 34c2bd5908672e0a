#!/usr/bin/env bash
# Runs the user-space injector tests against real daemons (see setup.sh,
# which must have run once). Prints one line per test,
# `RESULT PASS name` or `RESULT FAIL name reason`, then `N passed, N failed`;
# exits non-zero when anything failed. Needs root.
#
#   tests/userspace/run.sh [hadoop|cloudstack|network|compat|cluster|badinput|crashsafety|unit]...   (default: all)
#   (crashsafety-long: the 1000-trial kill -9 variant, run by `make soak`)
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# The workspace target dir by default, so make check reuses what cargo test built.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
export BIN_DIR="$CARGO_TARGET_DIR/debug"
RESULTS="$(mktemp /tmp/kvmfi-results.XXXXXX)"

usage() {
  cat >&2 <<USAGE
usage: $0 [hadoop|cloudstack|network|compat|cluster|badinput|crashsafety|crashsafety-long|unit]...
Runs the user-space injector suites (default: all). Needs root and setup.sh.
USAGE
}

cleanup() { rm -f "$RESULTS"; }
trap cleanup EXIT INT TERM

# Each suite prints RESULT lines; they are shown and collected.
suite() {
  local name="$1"; shift
  local start=$SECONDS
  echo "# suite $name" >&2
  { "$@" || echo "RESULT FAIL suite-$name exited with status $?"; } | tee -a "$RESULTS" | grep '^RESULT' || true
  echo "# suite $name took $((SECONDS - start))s" >&2
}

unit() {
  # The shared crate's journal, process, firewall and mount unit tests.
  if (cd "$ROOT" && nice cargo test -q -p kvmfi --lib -- journal undo procs exec firewall mounts cliparse) \
      >"$RESULTS.unit" 2>&1; then
    echo "RESULT PASS unit-shared"
  else
    echo "RESULT FAIL unit-shared $(grep -m1 -E 'panicked|error' "$RESULTS.unit")"
  fi
  rm -f "$RESULTS.unit"
}

main() {
  [[ $(id -u) == 0 ]] || { echo "run.sh: needs root" >&2; exit 3; }
  local suites=("$@")
  ((${#suites[@]})) || suites=(unit hadoop cloudstack network compat cluster badinput crashsafety)
  (cd "$ROOT" && nice cargo build -q -p hadoop_injector -p cloudstack_injector -p cluster_controller) || {
    echo "RESULT FAIL build cargo build failed"; echo "0 passed, 1 failed"; exit 1; }
  # The bad-input table runs every binary of the workspace.
  if [[ " ${suites[*]} " == *" badinput "* ]]; then
    (cd "$ROOT" && nice cargo build -q --workspace --bins) || {
      echo "RESULT FAIL build cargo build --workspace --bins failed"; echo "0 passed, 1 failed"; exit 1; }
  fi
  local s
  for s in "${suites[@]}"; do
    case "$s" in
      unit) suite unit unit ;;
      hadoop) suite hadoop unshare --pid --fork --mount-proc --net --mount "$HERE/hadoop_suite.sh" ;;
      cloudstack) suite cloudstack unshare --pid --fork --mount-proc --net --mount "$HERE/cloudstack_suite.sh" ;;
      network) suite network "$HERE/network_suite.sh" ;;
      cluster) suite cluster "$HERE/cluster_suite.sh" ;;
      compat) suite compat unshare --pid --fork --mount-proc --net --mount "$HERE/compat_suite.sh" ;;
      badinput) suite badinput unshare --pid --fork --mount-proc --net --mount "$HERE/badinput_suite.sh" ;;
      crashsafety) suite crashsafety unshare --pid --fork --mount-proc --net --mount "$HERE/crashsafety_suite.sh" ;;
      crashsafety-long) suite crashsafety-long env TRIALS="${TRIALS:-1000}" \
          unshare --pid --fork --mount-proc --net --mount "$HERE/crashsafety_suite.sh" ;;
      *) usage; exit 2 ;;
    esac
  done
  local pass fail
  pass=$(grep -c '^RESULT PASS' "$RESULTS" || true)
  fail=$(grep -c '^RESULT FAIL' "$RESULTS" || true)
  echo "$pass passed, $fail failed"
  [[ "$fail" == 0 ]]
}

main "$@"
