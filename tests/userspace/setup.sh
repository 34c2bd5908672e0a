#!/usr/bin/env bash
# Prepares this machine for tests/userspace/run.sh: host packages, a real
# HDFS (the jars of the pyspark 2.4.8 source package), and the stand-in JVMs
# that carry the exact main classes of daemons that cannot be obtained.
# Idempotent and non-interactive; everything downloaded is cached under
# ${KVMFI_CACHE:-/var/cache/kvmfi}.
set -o errexit -o nounset -o pipefail

CACHE="${KVMFI_CACHE:-/var/cache/kvmfi}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PACKAGES=(mariadb-server mariadb-client nftables iptables iproute2 procps util-linux curl python3 openjdk-17-jdk-headless
  libvirt-clients e2fsprogs openssh-server openssh-client tmux chromium qemu-system-x86)

err() { echo "setup.sh: $*" >&2; }
die() { err "$*"; exit 1; }

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # Java may come from elsewhere than Debian's package.
  if command -v javac >/dev/null && command -v java >/dev/null; then
    missing=("${missing[@]/openjdk-17-jdk-headless/}")
  fi
  local want=()
  for p in "${missing[@]}"; do [[ -n "$p" ]] && want+=("$p"); done
  ((${#want[@]} == 0)) && return 0
  err "installing ${want[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 "${want[@]}" >/dev/null
}

fetch_hadoop() {
  local dir="$CACHE/hadoop" jars
  jars="$dir/pyspark-2.4.8/deps/jars"
  [[ -f "$jars/hadoop-hdfs-2.7.3.jar" ]] && return 0
  mkdir -p "$dir"
  if [[ ! -f "$dir/pyspark-2.4.8.tar.gz" ]]; then
    err "downloading pyspark 2.4.8 (220 MB, the Hadoop 2.7.3 jars)"
    # Its metadata step needs an old pypandoc.
    echo 'pypandoc<1.6' > "$dir/constraints.txt"
    PIP_CONSTRAINT="$dir/constraints.txt" python3 -m pip download -q --no-deps pyspark==2.4.8 -d "$dir" \
      || die "pip download of pyspark==2.4.8 failed"
  fi
  tar -xzf "$dir/pyspark-2.4.8.tar.gz" -C "$dir" pyspark-2.4.8/deps/jars
  [[ -f "$jars/hadoop-hdfs-2.7.3.jar" ]] || die "hadoop-hdfs-2.7.3.jar missing from the pyspark sdist"
}

# One tiny class per main-class name: it prints "up" and sleeps, so it is a
# faithful target for discovery and signals.
build_standins() {
  local out="$CACHE/standin" src class pkg simple
  local classes=(
    org.apache.hadoop.yarn.server.resourcemanager.ResourceManager
    org.apache.hadoop.yarn.server.nodemanager.NodeManager
    org.apache.hadoop.mapreduce.v2.hs.JobHistoryServer
    org.apache.cloudstack.ServerDaemon
    com.cloud.agent.AgentShell
    com.cloud.usage.UsageServer
    org.apache.hadoop.mapred.YarnChild
    org.apache.hadoop.mapreduce.v2.app.MRAppMaster
    org.apache.hadoop.hdfs.server.namenode.NameNode
    org.apache.hadoop.hdfs.server.datanode.DataNode
    org.apache.hadoop.hdfs.server.namenode.SecondaryNameNode
  )
  # Rebuilt when the list changes.
  [[ -f "$out/stamp" && "$(cat "$out/stamp")" == "${classes[*]}" ]] && return 0
  rm -rf "$out" && mkdir -p "$out/src" "$out/classes"
  for class in "${classes[@]}"; do
    pkg="${class%.*}"; simple="${class##*.}"
    src="$out/src/${class//./\/}.java"
    mkdir -p "$(dirname "$src")"
    sed -e "s/@PKG@/$pkg/" -e "s/@CLASS@/$simple/" "$HERE/java/Standin.java.in" > "$src"
  done
  local srcs
  mapfile -t srcs < <(find "$out/src" -name '*.java')
  javac -d "$out/classes" "${srcs[@]}"
  echo "${classes[*]}" >"$out/stamp"
}

main() {
  [[ $(id -u) == 0 ]] || die "run as root (it installs packages)"
  install_packages
  fetch_hadoop
  build_standins
  echo "setup.sh: ready (cache $CACHE)"
}

main "$@"
