#!/usr/bin/env bash
# Network faults in network namespaces this suite creates: A (this "node",
# 10.77.0.1 and 10.77.1.1), B (peer, 10.77.0.2) and C (another peer,
# 10.77.1.3). Private addresses exist only inside them; traffic only flows
# between them. A foreign nftables table and iptables rule in A must come
# through every fault untouched.
set -o errexit -o nounset -o pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WORK="$(mktemp -d /tmp/kvmfi-net.XXXXXX)"
export WORK
SUITE=network
mkdir -p "$WORK/logs"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
export KVMFI_STATE_DIR="$WORK/journal"
HI="$BIN_DIR/hadoop_injector"
CI_="$BIN_DIR/cloudstack_injector"
A="kvmfi-a-$$" B="kvmfi-b-$$" C="kvmfi-c-$$"
SERVERS=()

cleanup() {
  local p
  for p in "${SERVERS[@]}"; do kill -- "-$p" 2>/dev/null || true; done
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  ip netns del "$C" 2>/dev/null || true
  if [[ "${KEEP_WORK:-0}" != 1 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT INT TERM

in_ns() { local ns="$1"; shift; ip netns exec "$ns" "$@"; }

# serve NS ADDR PORT: a small HTTP server bound to ADDR inside NS, in a
# process group of its own that cleanup kills whole: through a function's
# subshell or a python3 wrapper (pyenv), $! alone may not be the server,
# which then outlived the suite holding its inherited fds (the caller's flock).
serve() {
  setsid ip netns exec "$1" python3 -m http.server --bind "$2" "$3" --directory "$WORK/logs" >/dev/null 2>&1 &
  SERVERS+=($!)
}
# reach NS ADDR PORT: true when an HTTP GET from NS to ADDR:PORT answers within 2 s.
reach() { in_ns "$1" curl -s -m 2 -o /dev/null "http://$2:$3/"; }

setup_net() {
  ip netns add "$A"; ip netns add "$B"; ip netns add "$C"
  ip link add kvfa0 netns "$A" type veth peer name kvfb0 netns "$B"
  ip link add kvfa1 netns "$A" type veth peer name kvfc0 netns "$C"
  in_ns "$A" ip addr add 10.77.0.1/24 dev kvfa0
  in_ns "$A" ip addr add 10.77.1.1/24 dev kvfa1
  in_ns "$B" ip addr add 10.77.0.2/24 dev kvfb0
  in_ns "$C" ip addr add 10.77.1.3/24 dev kvfc0
  local ns
  for ns in "$A" "$B" "$C"; do in_ns "$ns" ip link set lo up; done
  in_ns "$A" ip link set kvfa0 up; in_ns "$A" ip link set kvfa1 up
  in_ns "$B" ip link set kvfb0 up; in_ns "$C" ip link set kvfc0 up
  serve "$A" 10.77.0.1 7777
  serve "$B" 10.77.0.2 7777
  serve "$B" 10.77.0.2 8250
  serve "$B" 10.77.0.2 8251
  serve "$C" 10.77.1.3 7777
  wait_until 20 reach "$A" 10.77.0.2 8251 || { echo "RESULT FAIL net-setup servers not reachable"; exit 1; }
  wait_until 20 reach "$A" 10.77.1.3 7777 || { echo "RESULT FAIL net-setup C not reachable"; exit 1; }
  wait_until 20 reach "$B" 10.77.0.1 7777 || { echo "RESULT FAIL net-setup A not reachable"; exit 1; }
  # Someone else's firewall in A: must stay exactly as it is.
  in_ns "$A" nft add table inet foreign
  in_ns "$A" nft add chain inet foreign in '{ type filter hook input priority 0; policy accept; }'
  in_ns "$A" nft add rule inet foreign in tcp dport 9 counter accept
  in_ns "$A" iptables -w -A INPUT -p tcp --dport 9 -j ACCEPT
  echo "RESULT PASS net-setup"
}

ruleset() { in_ns "$A" nft list ruleset | grep -v 'table inet kvmfi' ; }
foreign_intact() {
  local now
  now="$(in_ns "$A" nft list ruleset)"
  [[ "$now" == "$BEFORE" ]] || { fail "ruleset changed: $(diff <(echo "$BEFORE") <(echo "$now") | head -5)"; return 1; }
}
BEFORE=""

# isolated: B cut off from A in both directions, C still reachable.
isolated() {
  reach "$A" 10.77.0.2 7777 && { fail "A still reaches B"; return 1; }
  reach "$B" 10.77.0.1 7777 && { fail "B still reaches A"; return 1; }
  reach "$A" 10.77.1.3 7777 || { fail "A lost C too"; return 1; }
}
connected() {
  reach "$A" 10.77.0.2 7777 || { fail "A does not reach B"; return 1; }
  reach "$B" 10.77.0.1 7777 || { fail "B does not reach A"; return 1; }
}

# --- tests -----------------------------------------------------------------

test_network_nft() {
  in_ns "$A" "$HI" network 10.77.0.2 || return 1
  grep -q 'table inet kvmfi' <<<"$(in_ns "$A" nft list tables)" || { fail "no kvmfi table"; return 1; }
  isolated || return 1
  # Twice is once.
  in_ns "$A" "$HI" network 10.77.0.2 || return 1
  [[ $("$HI" status | wc -l) == 1 ]] || { fail "second network added a fault"; return 1; }
  in_ns "$A" "$HI" network-clear 10.77.0.2 || return 1
  connected || return 1
  foreign_intact || return 1
  journal_empty
}

test_network_iptables() {
  KVMFI_FIREWALL=iptables in_ns "$A" "$HI" network 10.77.0.2 || return 1
  in_ns "$A" iptables -w -S KVMFI | grep -q -- "-s 10.77.0.2/32" || { fail "no KVMFI rule"; return 1; }
  isolated || return 1
  in_ns "$A" "$HI" network-clear 10.77.0.2 || return 1
  connected || return 1
  in_ns "$A" iptables -w -S KVMFI >/dev/null 2>&1 && { fail "KVMFI chain left"; return 1; }
  foreign_intact || return 1
  journal_empty
}

test_killed_network_recover_elsewhere() {
  # Applied in A; the injector dies; recover runs from the host namespace
  # and must undo it inside A.
  die_apply in_ns "$A" "$HI" network 10.77.0.2 || return 1
  isolated || return 1
  "$HI" recover || return 1
  connected || return 1
  foreign_intact || return 1
  [[ -z "$("$HI" recover)" ]] || { fail "second recover not a no-op"; return 1; }
  journal_empty
}

test_killed_network_iptables() {
  die_apply env KVMFI_FIREWALL=iptables ip netns exec "$A" "$HI" network 10.77.0.2 || return 1
  isolated || return 1
  in_ns "$A" "$HI" recover || return 1
  connected || return 1
  in_ns "$A" iptables -w -S KVMFI >/dev/null 2>&1 && { fail "KVMFI chain left"; return 1; }
  foreign_intact || return 1
  journal_empty
}

test_agent_disconnect() {
  in_ns "$A" "$CI_" agent-disconnect || return 1
  reach "$A" 10.77.0.2 8250 && { fail "8250 still reachable"; return 1; }
  reach "$A" 10.77.0.2 8251 || { fail "8251 cut too"; return 1; }
  reach "$A" 10.77.0.2 7777 || { fail "7777 cut too"; return 1; }
  in_ns "$A" "$CI_" agent-reconnect || return 1
  reach "$A" 10.77.0.2 8250 || { fail "8250 not back"; return 1; }
  foreign_intact || return 1
  die_apply in_ns "$A" "$CI_" agent-disconnect || return 1
  reach "$A" 10.77.0.2 8250 && { fail "8250 reachable after killed apply"; return 1; }
  in_ns "$A" "$CI_" recover || return 1
  reach "$A" 10.77.0.2 8250 || { fail "8250 not back after recover"; return 1; }
  foreign_intact || return 1
  journal_empty
}

test_two_tools_one_table() {
  # hadoop and cloudstack faults share table inet kvmfi; undoing one keeps the other.
  in_ns "$A" "$HI" network 10.77.0.2 || return 1
  in_ns "$A" "$CI_" agent-disconnect || return 1
  in_ns "$A" "$HI" network-clear 10.77.0.2 || return 1
  reach "$A" 10.77.0.2 7777 || { fail "network-clear did not restore B"; return 1; }
  reach "$A" 10.77.0.2 8250 && { fail "network-clear removed the agent block"; return 1; }
  in_ns "$A" "$CI_" agent-reconnect || return 1
  reach "$A" 10.77.0.2 8250 || { fail "8250 not back"; return 1; }
  in_ns "$A" nft list table inet kvmfi >/dev/null 2>&1 && { fail "empty kvmfi table left"; return 1; }
  foreign_intact || return 1
  journal_empty
}

main() {
  setup_net
  BEFORE="$(in_ns "$A" nft list ruleset)"
  local t
  for t in network_nft network_iptables killed_network_recover_elsewhere killed_network_iptables agent_disconnect two_tools_one_table; do
    run_test "$t"
  done
}

main "$@"
