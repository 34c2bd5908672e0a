#!/bin/sh
# bench-timeout: 400
# bench-image-modules: sch_netem sch_prio cls_u32
# bench-host-tools: tc
# netem faults on a kernel that has sch_netem/sch_prio (the build machine's
# has not): cloudstack_injector api-delay really delays the API port's
# answers (a loopback HTTP server on 8080), and only them; hadoop_injector
# delay / loss / reorder towards a peer; both tools' faults share kvmfi's
# root qdisc; recover after kill -9 puts everything back; a foreign root
# qdisc is never replaced.
. /bench/lib.sh
export KVMFI_STATE_DIR=/tmp/kvmfi-journal
CI=cloudstack_injector
HI=hadoop_injector
# busybox sh runs its own applets before PATH: name iproute2's tc by path.
TC=/usr/sbin/tc

if [ ! -x /usr/sbin/tc ]; then
    skip netem.tc "no iproute2 tc in this guest (bench-host-tools are copied into same-arch guests only)"
    exit 0
fi
for m in sch_netem sch_prio cls_u32; do
    load_image_module "$m" || { fail "netem.module-$m" "cannot load $m"; exit 0; }
done
pass netem.modules

ip link set lo up
mkdir -p /tmp/www && echo api >/tmp/www/index.html
httpd -p 127.0.0.1:8080 -h /tmp/www || { fail netem.server "busybox httpd did not start"; exit 0; }

# hundredths of a second since boot
now_cs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
# api_ms: mean time of 5 HTTP requests to the API port, in ms
api_ms() {
    _t0=$(now_cs)
    for _i in 1 2 3 4 5; do wget -q -O /dev/null http://127.0.0.1:8080/ || echo "wget failed" >&2; done
    echo $((($(now_cs) - _t0) * 10 / 5))
}
# ping_ms: average ping round trip to 127.0.0.1 in whole ms
ping_ms() { ping -c 3 -i 0.2 127.0.0.1 | sed -n 's#.*= [0-9.]*/\([0-9]*\).*#\1#p'; }
kvmfi_qdisc() { $TC qdisc show dev lo | grep -c '4b46:\|4b5'; }

api_ms >/dev/null # warm up (first requests pay for page cache and ARP-less setup)
base=$(api_ms)
pbase=$(ping_ms)
echo "netem: API round trip before: ${base}ms, ping ${pbase}ms"

# --- api-delay: the original's command line, plus --dev (no default route in the guest)
$CI api-delay 200 --dev lo
expect_eq netem.api-delay-rc "$?" 0
$TC qdisc show dev lo
$TC filter show dev lo
during=$(api_ms)
pduring=$(ping_ms)
echo "netem: API round trip during api-delay 200: ${during}ms (ping ${pduring}ms)"
# Each HTTP exchange waits for at least two delayed packets from port 8080
# (SYN-ACK and the answer): +400 ms, +300 ms is the floor checked.
expect_ge netem.api-delay-slows-8080 "$((during - base))" 300
if [ "${pduring:-999}" -lt 100 ]; then pass netem.api-delay-only-8080; else fail netem.api-delay-only-8080 "ping to lo took ${pduring}ms"; fi
$CI api-delay-clear
expect_eq netem.api-delay-clear-rc "$?" 0
after=$(api_ms)
echo "netem: API round trip after api-delay-clear: ${after}ms"
if [ $((after - base)) -lt 150 ]; then pass netem.api-delay-clear-restores; else fail netem.api-delay-clear-restores "before ${base}ms after ${after}ms"; fi
expect_eq netem.api-delay-clear-no-qdisc "$(kvmfi_qdisc)" 0

# --- kill -9 right after applying, then recover
KVMFI_TEST_DIE_AFTER_APPLY=1 $CI api-delay 200 --dev lo
expect_eq netem.killed-api-delay-rc "$?" 137
killed=$(api_ms)
expect_ge netem.killed-api-delay-in-force "$((killed - base))" 300
if $CI status | grep -q 'api-delay.*pending'; then pass netem.killed-status-pending; else fail netem.killed-status-pending "$($CI status)"; fi
$CI recover
expect_eq netem.recover-rc "$?" 0
rec=$(api_ms)
echo "netem: API round trip after kill -9 + recover: ${rec}ms (in force while killed: ${killed}ms)"
if [ $((rec - base)) -lt 150 ]; then pass netem.recover-restores; else fail netem.recover-restores "before ${base}ms after ${rec}ms"; fi
expect_eq netem.recover-no-qdisc "$(kvmfi_qdisc)" 0
expect_eq netem.second-recover-noop "$($CI recover)" ""
expect_eq netem.journal-empty "$($CI status --all)" ""

# --- hadoop_injector delay / loss / reorder towards a peer (127.0.0.1 via lo)
$HI delay 127.0.0.1 100 20
expect_eq netem.delay-rc "$?" 0
pd=$(ping_ms)
echo "netem: ping during delay 100 20: ${pd}ms (before ${pbase}ms)"
expect_ge netem.delay-slows-peer "${pd:-0}" 150
$HI delay-show | tee /tmp/show.txt
expect_match netem.delay-show "$(cat /tmp/show.txt)" "netem .*delay 100ms"
# Both tools at once: api-delay takes its own band; clearing one keeps the other.
$CI api-delay 200 --dev lo
both=$(api_ms)
expect_ge netem.two-bands-api "$((both - base))" 300
$HI delay-clear 127.0.0.1
expect_eq netem.delay-clear-rc "$?" 0
pa=$(ping_ms)
still=$(api_ms)
if [ "${pa:-999}" -lt 50 ]; then pass netem.delay-clear-restores; else fail netem.delay-clear-restores "ping ${pa}ms"; fi
expect_ge netem.delay-clear-keeps-api-delay "$((still - base))" 300
$CI api-delay-clear
expect_eq netem.both-cleared "$(kvmfi_qdisc)" 0

$HI loss 127.0.0.1 50
expect_eq netem.loss-rc "$?" 0
lost=$(ping -c 30 -i 0.1 127.0.0.1 | sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p')
echo "netem: ping loss during loss 50: ${lost}%"
expect_ge netem.loss-drops "${lost:-0}" 20
$HI loss-clear
lost2=$(ping -c 10 -i 0.1 127.0.0.1 | sed -n 's/.* \([0-9]*\)% packet loss.*/\1/p')
expect_eq netem.loss-clear-restores "$lost2" 0

$HI reorder 127.0.0.1 50 25
expect_eq netem.reorder-rc "$?" 0
expect_match netem.reorder-qdisc "$($TC qdisc show dev lo)" "reorder 50%"
expect_match netem.reorder-journal "$($HI status)" "netem delay 10ms reorder 50% 25%"
$HI reorder-clear 127.0.0.1
expect_eq netem.reorder-clear "$(kvmfi_qdisc)" 0

# A second netem fault on the same peer is refused (the first would hide it)
$HI delay 127.0.0.1 50 >/dev/null
$HI loss 127.0.0.1 10 2>/tmp/err.txt
expect_eq netem.same-peer-refused-rc "$?" 1
$HI delay-clear

KVMFI_TEST_DIE_AFTER_APPLY=1 $HI delay 127.0.0.1 100
expect_eq netem.killed-delay-rc "$?" 137
pk=$(ping_ms)
expect_ge netem.killed-delay-in-force "${pk:-0}" 150
$HI recover
pr=$(ping_ms)
if [ "${pr:-999}" -lt 50 ]; then pass netem.killed-delay-recovered; else fail netem.killed-delay-recovered "ping ${pr}ms"; fi
expect_eq netem.killed-delay-no-qdisc "$(kvmfi_qdisc)" 0

$HI heartbeat 127.0.0.1 300 --ports 8080
hb=$(api_ms)
expect_ge netem.heartbeat-delays-port "$((hb - base))" 250
$HI heartbeat-clear
expect_eq netem.heartbeat-clear "$(kvmfi_qdisc)" 0

# --- a root qdisc that kvmfi did not create is never replaced
# (someone else's prio qdisc, handle 1:)
if $TC qdisc add dev lo root handle 1: prio 2>/tmp/err.txt; then
    $CI api-delay 200 --dev lo 2>/tmp/err.txt
    expect_eq netem.foreign-root-refused "$?" 1
    expect_match netem.foreign-root-refused-msg "$(cat /tmp/err.txt)" "did not create"
    $HI delay 127.0.0.1 100 2>/dev/null
    expect_eq netem.foreign-root-refused-hadoop "$?" 1
    expect_match netem.foreign-root-intact "$($TC qdisc show dev lo)" "qdisc prio 1: root"
    $TC qdisc del dev lo root
else
    fail netem.foreign-root "tc qdisc add ... prio: $(cat /tmp/err.txt)"
fi
expect_eq netem.final-journal-empty "$($CI status --all)" ""
echo "netem: figures: api before=${base}ms during=${during}ms after=${after}ms killed=${killed}ms recovered=${rec}ms; ping before=${pbase}ms delay100=${pd}ms loss50=${lost}%"
