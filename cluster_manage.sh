#!/usr/bin/env bash
# cluster_manage.sh: manage the Hadoop cluster of cluster.conf and inject
# faults into it over ssh, with the kvmfi injectors installed on each node.
# The original tool's commands, fixed: every role of a node counts, no
# hard-coded addresses or paths, and every fault is journaled on its node
# (recover with `cluster_controller recover` or the injector's `recover`).
# See `cluster_manage.sh help` and man cluster_manage.sh(8).
set -o errexit -o nounset -o pipefail

PROG="${0##*/}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CONF="${CLUSTER_CONF:-}"
SSH_USER="${SSH_USER:-}"
SSH_KEY="${SSH_KEY:-}"
CONNECT_TIMEOUT="${SSH_CONNECT_TIMEOUT:-5}"
HADOOP_HOME="${HADOOP_HOME:-/opt/hadoop}"
HADOOP_INJECTOR="${HADOOP_INJECTOR:-hadoop_injector}"
CLUSTER_CONTROLLER="${CLUSTER_CONTROLLER:-cluster_controller}"
# Host keys: strict (default), accept-new, or insecure (checks nothing).
HOST_KEYS=strict
KNOWN_HOSTS=""
CONF_KNOWN_HOSTS=""
ERRFILE=""

# The nodes, filled by read_conf: parallel arrays.
NAMES=()
ADDRS=()
PORTS=()
ROLES=()
USERS=()

usage() {
  cat >&2 <<USAGE
Usage: $PROG [-c FILE] [-i KEY] [-u USER] [--known-hosts FILE] [--accept-new-host-keys] COMMAND [ARGS]

Cluster:
  status                  every node: ssh reachable, its roles, the Hadoop daemons running
  start                   start HDFS (start-dfs.sh) and YARN (start-yarn.sh) on the master
  stop                    stop YARN and HDFS
  restart                 stop, then start
  test                    HDFS check: mkdir, put, cat, compare, rm (on the NameNode node)
Faults (journaled on each node; undo with the clear-/resume commands or 'cluster_controller recover'):
  inject-delay [DELAY]    delay every packet a node sends (netem; default 100ms), on every node
  clear-delay             undo inject-delay on every node
  inject-network IP       cut IP off: every other node drops its traffic
  clear-network [IP]      undo inject-network IP (without IP: every network block on every node)
  inject-crash IP PROC    SIGKILL daemon PROC on node IP (nn dn snn rm nm jhs, or NameNode, DataNode...)
  inject-hang IP PROC     SIGSTOP daemon PROC on node IP
  resume IP PROC          SIGCONT daemon PROC on node IP
  help                    this text

Options:
  -c FILE   cluster file (default: \$CLUSTER_CONF, \$KVMFI_CLUSTER_CONF, ./cluster.conf,
            cluster.conf next to this script, /etc/kvmfi/cluster.conf)
  -i KEY    ssh private key (default: \$SSH_KEY, else ssh's own)
  -u USER   remote user (default: \$SSH_USER, else ~/.ssh/config's User, else root;
            the injectors need root; an inventory's ansible_user wins)
  --known-hosts FILE        check host keys against FILE too (new keys recorded there)
  --accept-new-host-keys    record the host key of a node seen for the first time
                            (ssh's StrictHostKeyChecking=accept-new); a changed key is still refused
  --insecure-ignore-host-keys  check no host key: anyone answering on a node's address gets
                            the commands (the original's StrictHostKeyChecking=no)
Host keys are checked by default (StrictHostKeyChecking=yes): ~/.ssh/known_hosts,
/etc/ssh/ssh_known_hosts, and the cluster file's 'known_hosts = PATH'. ssh reads ~/.ssh/config.

Environment: CLUSTER_CONF KVMFI_CLUSTER_CONF SSH_KEY SSH_USER SSH_CONNECT_TIMEOUT (5) HADOOP_HOME (/opt/hadoop)
  HADOOP_INJECTOR (hadoop_injector) CLUSTER_CONTROLLER (cluster_controller): paths on the nodes.
  LOCAL_CLUSTER_CONTROLLER: the local cluster_controller that reads Ansible inventories.
cluster.conf: one node a line, name,address,ssh_port,role[,role...]; '#' comments;
  'known_hosts = PATH' adds a known_hosts file. An Ansible inventory (INI or YAML, groups
  as roles) works too: it is read through 'cluster_controller nodes' (\$LOCAL_CLUSTER_CONTROLLER).
Exit status: 0 ok, 1 a node or command failed, 2 usage or cluster file error.
USAGE
}

err() { echo "$PROG: $*" >&2; }
die() { err "$*"; exit 1; }
usage_error() { err "$*"; echo "Try '$PROG help'." >&2; exit 2; }

# is_inventory FILE: true for an Ansible inventory (as cluster_controller
# tells them apart: .ini/.yml/.yaml, or a first line [group], ---, all:).
is_inventory() {
  case "$1" in *.ini | *.yml | *.yaml) return 0 ;; esac
  local line
  while IFS= read -r line || [[ -n "$line" ]]; do
    line="${line#"${line%%[![:space:]]*}"}"
    [[ -z "$line" || "$line" == '#'* || "$line" == ';'* ]] && continue
    [[ "$line" == '['* || "$line" == '---'* || "$line" == all:* || ( "$line" == *: && "$line" != *,* ) ]]
    return
  done <"$1"
  return 1
}

# read_inventory FILE: the nodes of an Ansible inventory, from
# 'cluster_controller nodes' (name, address, port, roles[, user], tab-separated).
read_inventory() {
  local file="$1" out name addr port roles user
  local cc="${LOCAL_CLUSTER_CONTROLLER:-}"
  [[ -n "$cc" ]] || { if [[ -x "$HERE/cluster_controller" ]]; then cc="$HERE/cluster_controller"; else cc=cluster_controller; fi; }
  command -v "$cc" >/dev/null || usage_error "$file is an Ansible inventory; reading it needs cluster_controller (set LOCAL_CLUSTER_CONTROLLER)"
  out="$("$cc" -c "$file" nodes 2>&1)" || usage_error "${out##*: }"
  while IFS=$'\t' read -r name addr port roles user; do
    [[ -z "$name" || "$name" == '#'* ]] && continue
    NAMES+=("$name"); ADDRS+=("$addr"); PORTS+=("$port"); ROLES+=("$roles"); USERS+=("${user:-}")
  done <<<"$out"
  ((${#NAMES[@]} > 0)) || usage_error "$file: no node in it"
}

# read_conf FILE: fills NAMES/ADDRS/PORTS/ROLES, line by line (never sourced).
read_conf() {
  local file="$1" line lineno=0 name addr port rest dir
  [[ -r "$file" ]] || usage_error "cannot read cluster file $file (give -c FILE)"
  dir="$(dirname -- "$file")"
  if is_inventory "$file"; then read_inventory "$file"; return; fi
  while IFS= read -r line || [[ -n "$line" ]]; do
    lineno=$((lineno + 1))
    line="${line%%#*}"
    line="${line//$'\r'/}"
    if [[ "$line" =~ ^[[:space:]]*known_hosts[[:space:]]*=[[:space:]]*(.*[^[:space:]])[[:space:]]*$ ]]; then
      CONF_KNOWN_HOSTS="${BASH_REMATCH[1]}"
      [[ "$CONF_KNOWN_HOSTS" == /* || "$CONF_KNOWN_HOSTS" == '~'* ]] || CONF_KNOWN_HOSTS="$dir/$CONF_KNOWN_HOSTS"
      CONF_KNOWN_HOSTS="${CONF_KNOWN_HOSTS/#\~/$HOME}"
      continue
    fi
    line="${line//[[:space:]]/}"
    [[ -z "$line" ]] && continue
    IFS=, read -r name addr port rest <<<"$line"
    if [[ -z "$name" || -z "$addr" || -z "$port" || -z "${rest:-}" ]]; then
      usage_error "$file: line $lineno: write name,address,ssh_port,role[,role...]"
    fi
    [[ "$name" =~ ^[A-Za-z0-9._-]+$ ]] || usage_error "$file: line $lineno: bad node name '$name'"
    [[ "$addr" =~ ^[A-Za-z0-9.:-]+$ ]] || usage_error "$file: line $lineno: bad address '$addr'"
    if ! [[ "$port" =~ ^[0-9]+$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
      usage_error "$file: line $lineno: ssh port '$port' must be 1 to 65535"
    fi
    NAMES+=("$name")
    ADDRS+=("$addr")
    PORTS+=("$((10#$port))")
    ROLES+=("$rest")
    USERS+=("")
  done <"$file"
  ((${#NAMES[@]} > 0)) || usage_error "$file: no node in it"
}

# find_conf: the cluster file in force, searched like cluster_controller's:
# the option, $KVMFI_CLUSTER_CONF, ./cluster.conf, the one beside this script
# (a source tree), /etc/kvmfi/cluster.conf (an installed one).
find_conf() {
  if [[ -n "$CONF" ]]; then echo "$CONF"; return; fi
  if [[ -n "${KVMFI_CLUSTER_CONF:-}" ]]; then echo "$KVMFI_CLUSTER_CONF"; return; fi
  if [[ -f cluster.conf ]]; then echo cluster.conf; return; fi
  if [[ -f "$HERE/cluster.conf" ]]; then echo "$HERE/cluster.conf"; return; fi
  echo /etc/kvmfi/cluster.conf
}

# ssh_opts INDEX: ssh's options for node INDEX into the array OPTS.
ssh_opts() {
  local i="$1" files=()
  OPTS=(-n -o LogLevel=ERROR -o ConnectTimeout="$CONNECT_TIMEOUT" -o BatchMode=yes -p "${PORTS[$i]}")
  case "$HOST_KEYS" in
    insecure) OPTS+=(-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null) ;;
    accept-new) OPTS+=(-o StrictHostKeyChecking=accept-new) ;;
    *) OPTS+=(-o StrictHostKeyChecking=yes) ;;
  esac
  if [[ "$HOST_KEYS" != insecure ]]; then
    # The files cluster_controller reads, $HOME's included (ssh itself would
    # take the passwd entry's home); ssh records new keys in the first one.
    [[ -n "$KNOWN_HOSTS" ]] && files+=("$KNOWN_HOSTS")
    [[ -n "$CONF_KNOWN_HOSTS" ]] && files+=("$CONF_KNOWN_HOSTS")
    files+=("$(user_known_hosts)")
    OPTS+=(-o "UserKnownHostsFile=${files[*]}")
  fi
  [[ -n "$SSH_KEY" ]] && OPTS+=(-i "$SSH_KEY")
  OPTS+=(-l "$(user_of "$i")")
}

# user_known_hosts: ~/.ssh/known_hosts of $HOME.
user_known_hosts() { echo "${HOME:-~}/.ssh/known_hosts"; }

# user_of INDEX: the node's ansible_user, else -u/$SSH_USER, else
# ~/.ssh/config's User for it (ssh -G), else root.
user_of() {
  local i="$1" u
  u="${USERS[$i]:-$SSH_USER}"
  if [[ -z "$u" ]]; then
    u="$(ssh -G -p "${PORTS[$i]}" "${ADDRS[$i]}" 2>/dev/null | awk '$1 == "user" { print $2; exit }')"
    # ssh -G says the local account when nothing is configured: root then.
    [[ -z "$u" || "$u" == "$(id -un)" ]] && u=root
  fi
  echo "$u"
}

# host_key_hint INDEX: after ssh refused a host key, says which key the node
# offers (fingerprint) and how to accept it.
host_key_hint() {
  local i="$1" addr="${ADDRS[$1]}" port="${PORTS[$1]}" fp pat="${ADDRS[$1]}" first
  ((port == 22)) || pat="[$addr]:$port"
  first="${KNOWN_HOSTS:-${CONF_KNOWN_HOSTS:-$(user_known_hosts)}}"
  # "SHA256:... (ED25519)" for each key the node offers.
  fp="$(ssh-keyscan -T "$CONNECT_TIMEOUT" -p "$port" "$addr" 2>/dev/null | ssh-keygen -lf - 2>/dev/null | awk '{ printf "%s%s %s", sep, $2, $NF; sep = ", " }')"
  if grep -q 'REMOTE HOST IDENTIFICATION HAS CHANGED' "$ERRFILE"; then
    err "${NAMES[$i]} ($addr:$port): HOST KEY CHANGED (now ${fp:-unknown}): refused. If expected: ssh-keygen -R '$pat' -f $first, then add the new key"
  else
    err "${NAMES[$i]} ($addr:$port): UNKNOWN HOST KEY ${fp:-(no answer to ssh-keyscan)}: refused. If that is the node's key: ssh-keyscan -p $port $addr >> $first (check: ssh-keygen -F '$pat' -f $first), or rerun with --accept-new-host-keys"
  fi
}

# ssh_to INDEX LINE: runs LINE on node INDEX; host key refusals explained.
ssh_to() {
  local i="$1" line="$2" rc=0
  ssh_opts "$i"
  # shellcheck disable=SC2029 # the line is built (and quoted) for the remote shell by the caller
  ssh "${OPTS[@]}" "${ADDRS[$i]}" "$line" 2>"$ERRFILE" || rc=$?
  cat "$ERRFILE" >&2
  if ((rc == 255)) && grep -q 'Host key verification failed' "$ERRFILE"; then host_key_hint "$i"; fi
  return "$rc"
}

# run_on INDEX CMD...: runs CMD (words quoted for the remote shell) on node INDEX.
run_on() {
  local i="$1"; shift
  local words=() w
  for w in "$@"; do words+=("$(printf '%q' "$w")"); done
  ssh_to "$i" "${words[*]}"
}

# run_line INDEX LINE: runs a shell line on node INDEX (for pipelines).
run_line() {
  ssh_to "$1" "$2"
}

# node_of IP: the index of the node with that address (exit 2 if none).
node_of() {
  local i
  for i in "${!ADDRS[@]}"; do
    [[ "${ADDRS[$i]}" == "$1" ]] && { echo "$i"; return 0; }
  done
  usage_error "no node of the cluster file has address $1"
}

# with_role ROLE: index of the first node with ROLE (exit 1 if none).
with_role() {
  local i r
  for i in "${!ROLES[@]}"; do
    IFS=, read -ra r <<<"${ROLES[$i]}"
    local x
    for x in "${r[@]}"; do
      [[ "${x,,}" == "${1,,}" ]] && { echo "$i"; return 0; }
    done
  done
  die "no node has role $1 in the cluster file"
}

# component PROC: the injector's component name of PROC.
component() {
  case "${1,,}" in
    nn | namenode) echo nn ;;
    dn | datanode) echo dn ;;
    snn | secondarynamenode) echo snn ;;
    rm | resourcemanager) echo rm ;;
    nm | nodemanager) echo nm ;;
    jhs | jobhistoryserver) echo jhs ;;
    *) usage_error "unknown daemon '$1'; use nn dn snn rm nm jhs (or NameNode, DataNode, ...)" ;;
  esac
}

# each CMD...: runs CMD on every node, reporting per node; false if any failed.
each() {
  local i rc=0
  for i in "${!NAMES[@]}"; do
    if run_on "$i" "$@"; then
      echo "${NAMES[$i]} (${ADDRS[$i]}): ok"
    else
      echo "${NAMES[$i]} (${ADDRS[$i]}): FAILED" >&2
      rc=1
    fi
  done
  return "$rc"
}

cmd_status() {
  local i rc=0 out
  printf '%-12s %-22s %-5s %-40s %s\n' NODE ADDRESS SSH ROLES DAEMONS
  for i in "${!NAMES[@]}"; do
    if out="$(run_on "$i" "$HADOOP_INJECTOR" list 2>/dev/null)"; then
      local daemons
      daemons="$(awk -F'\t' '{ printf "%s%s:%s(%s)", sep, $1, $2, $3; sep=" " }' <<<"$out")"
      printf '%-12s %-22s %-5s %-40s %s\n' "${NAMES[$i]}" "${ADDRS[$i]}:${PORTS[$i]}" up "${ROLES[$i]}" "${daemons:--}"
    else
      printf '%-12s %-22s %-5s %-40s %s\n' "${NAMES[$i]}" "${ADDRS[$i]}:${PORTS[$i]}" DOWN "${ROLES[$i]}" "-"
      rc=1
    fi
  done
  return "$rc"
}

cmd_start() {
  local nn rmn
  nn="$(with_role NameNode)"
  run_on "$nn" "$HADOOP_HOME/sbin/start-dfs.sh"
  rmn="$(with_role ResourceManager)"
  run_on "$rmn" "$HADOOP_HOME/sbin/start-yarn.sh"
  echo "started HDFS on ${NAMES[$nn]} and YARN on ${NAMES[$rmn]}"
}

cmd_stop() {
  local nn rmn
  rmn="$(with_role ResourceManager)"
  run_on "$rmn" "$HADOOP_HOME/sbin/stop-yarn.sh"
  nn="$(with_role NameNode)"
  run_on "$nn" "$HADOOP_HOME/sbin/stop-dfs.sh"
  echo "stopped YARN on ${NAMES[$rmn]} and HDFS on ${NAMES[$nn]}"
}

cmd_test() {
  local nn hdfs dir="/tmp/kvmfi-cluster-test-$$" data
  nn="$(with_role NameNode)"
  hdfs="$HADOOP_HOME/bin/hdfs"
  data="kvmfi HDFS check $(date +%s) $RANDOM"
  local q
  q="$(printf '%q' "$data")"
  # One ssh session: write, read back, compare, clean up.
  if run_line "$nn" "set -e; h=$(printf '%q' "$hdfs"); d=$(printf '%q' "$dir");
      \"\$h\" dfs -mkdir -p \"\$d\";
      printf '%s\n' $q | \"\$h\" dfs -put -f - \"\$d/check.txt\";
      got=\$(\"\$h\" dfs -cat \"\$d/check.txt\");
      \"\$h\" dfs -rm -r -f \"\$d\" >/dev/null;
      [ \"\$got\" = $q ]"; then
    echo "HDFS test passed on ${NAMES[$nn]} (write, read, compare, remove)"
  else
    die "HDFS test FAILED on ${NAMES[$nn]}"
  fi
}

cmd_inject_delay() {
  local delay="${1:-100ms}" ms
  [[ "$delay" =~ ^([0-9]+)(ms)?$ ]] || usage_error "delay '$delay': give milliseconds, e.g. 100ms"
  ms="${BASH_REMATCH[1]}"
  ((10#$ms >= 1 && 10#$ms <= 60000)) || usage_error "delay '$delay': 1 to 60000 ms"
  each "$CLUSTER_CONTROLLER" node-local delay "$((10#$ms))"
}

cmd_clear_delay() {
  each "$CLUSTER_CONTROLLER" node-local clear
}

check_ip() {
  [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ || "$1" =~ ^[0-9A-Fa-f:]+:[0-9A-Fa-f:.]*$ ]] \
    || usage_error "'$1' is not an IP address"
}

cmd_inject_network() {
  local ip="$1" i rc=0
  check_ip "$ip"
  for i in "${!NAMES[@]}"; do
    [[ "${ADDRS[$i]}" == "$ip" ]] && continue
    if run_on "$i" "$HADOOP_INJECTOR" network "$ip" >/dev/null; then
      echo "${NAMES[$i]} (${ADDRS[$i]}): drops traffic to and from $ip"
    else
      echo "${NAMES[$i]} (${ADDRS[$i]}): FAILED" >&2
      rc=1
    fi
  done
  return "$rc"
}

cmd_clear_network() {
  local i rc=0
  if (($# == 1)); then
    check_ip "$1"
    for i in "${!NAMES[@]}"; do
      [[ "${ADDRS[$i]}" == "$1" ]] && continue
      if run_on "$i" "$HADOOP_INJECTOR" network-clear "$1" 2>/dev/null; then
        echo "${NAMES[$i]}: cleared $1"
      else
        echo "${NAMES[$i]}: FAILED" >&2; rc=1
      fi
    done
    return "$rc"
  fi
  # Every network block of hadoop_injector on every node, by its journal id.
  local hi
  hi="$(printf '%q' "$HADOOP_INJECTOR")"
  for i in "${!NAMES[@]}"; do
    if run_line "$i" "$hi status | awk -F'\t' '\$3 == \"network\" { print \$1 }' | while read -r id; do $hi recover \"\$id\" >/dev/null; done"; then
      echo "${NAMES[$i]}: network blocks cleared"
    else
      echo "${NAMES[$i]}: FAILED" >&2; rc=1
    fi
  done
  return "$rc"
}

cmd_signal() {
  local verb="$1" ip="$2" proc i
  check_ip "$ip"
  proc="$(component "$3")"
  i="$(node_of "$ip")"
  run_on "$i" "$HADOOP_INJECTOR" "$verb" "$proc"
}

main() {
  local opt args=()
  # Long options first (getopts has none), the rest to getopts.
  while (($# > 0)); do
    case "$1" in
      --accept-new-host-keys) HOST_KEYS=accept-new ;;
      --insecure-ignore-host-keys)
        HOST_KEYS=insecure
        err "warning: --insecure-ignore-host-keys: host keys are not checked; anyone answering on a node's address receives its commands" ;;
      --known-hosts) (($# > 1)) || usage_error "--known-hosts needs a file"; KNOWN_HOSTS="$2"; shift ;;
      --known-hosts=*) KNOWN_HOSTS="${1#*=}" ;;
      --) args+=("$@"); break ;;
      *) args+=("$1") ;;
    esac
    shift
  done
  set -- "${args[@]+"${args[@]}"}"
  ERRFILE="$(mktemp)"
  trap 'rm -f "$ERRFILE"' EXIT
  while getopts ":c:i:u:h" opt; do
    case "$opt" in
      c) CONF="$OPTARG" ;;
      i) SSH_KEY="$OPTARG" ;;
      u) SSH_USER="$OPTARG" ;;
      h) usage; exit 0 ;;
      :) usage_error "-$OPTARG needs a value" ;;
      *) usage_error "unknown option -$OPTARG" ;;
    esac
  done
  shift $((OPTIND - 1))
  (($# > 0)) || { usage; exit 2; }
  local cmd="$1"; shift
  case "$cmd" in
    help | -h | --help) usage; exit 0 ;;
  esac
  read_conf "$(find_conf)"
  local want
  case "$cmd" in
    status | start | stop | restart | test | clear-delay) want=0 ;;
    inject-delay | clear-network) want=-1 ;;
    inject-network) want=1 ;;
    inject-crash | inject-hang | resume) want=2 ;;
    *) usage_error "unknown command '$cmd'" ;;
  esac
  if ((want >= 0 && $# != want)); then usage_error "$cmd takes $want argument(s)"; fi
  if ((want < 0 && $# > 1)); then usage_error "$cmd takes at most 1 argument"; fi
  case "$cmd" in
    status) cmd_status ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    test) cmd_test ;;
    inject-delay) cmd_inject_delay "$@" ;;
    clear-delay) cmd_clear_delay ;;
    inject-network) cmd_inject_network "$1" ;;
    clear-network) cmd_clear_network "$@" ;;
    inject-crash) cmd_signal crash "$1" "$2" ;;
    inject-hang) cmd_signal hang "$1" "$2" ;;
    resume) cmd_signal resume "$1" "$2" ;;
  esac
}

main "$@"
