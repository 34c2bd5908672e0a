#!/bin/sh
# bench-timeout: 180
# Every injection observable, through vfs-read-fi: events ring,
# --follow, --json, ring wrap with counters intact, verbose dmesg lines
# rate-limited under a flood. The ring and events live in the module core, so
# every kernel tool has them.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
T=vfs-read-fi
F=/tmp/events.data
printf 'some bytes\n' >$F

# 1. N injections give exactly N inject events with the right pid and value,
#    framed by one arm and one end event of the same experiment
sh -c 'kill -STOP $$; exec fi-probe read "$0" --count 10 --size 1' $F >/tmp/t.out &
pid=$!
wait_stopped $pid
id=$($T arm --tgid $pid --path $F --times 7 --errno EIO)
kill -CONT $pid; wait $pid
# the end event is written when the module disarms itself (deferred work)
i=0
while $T status | grep -q '^state *armed' && [ $i -lt 300 ]; do sleep 0.01; i=$((i + 1)); done
$T events --experiment "$id" >/tmp/ev.txt
expect_eq events.n-injections-n-events "$(grep -c ' inject ' /tmp/ev.txt)" 7
expect_eq events.right-pid "$(grep ' inject ' /tmp/ev.txt | grep -c "pid=$pid tgid=$pid comm=fi-probe")" 7
expect_eq events.right-value "$(grep ' inject ' /tmp/ev.txt | grep -c 'value=-5 ')" 7
expect_eq events.arm-and-end "$(grep -c ' arm ' /tmp/ev.txt),$(grep -c ' end ' /tmp/ev.txt)" "1,1"
expect_eq events.experiment-id-in-status "$($T status | awk '$1 == "experiment" { print $2 }')" "$id"
json=$($T events --json --experiment "$id" | grep '"type":"inject"' | head -n 1)
expect_match events.json "$json" "\"experiment\":\"$id\".*\"pid\":$pid.*\"value\":-5"

# 2. --follow sees events as they happen
$T events --follow --json >/tmp/follow.out 2>&1 &
fpid=$!
sleep 1
id2=$($T arm --comm fi-probe --path $F --times 3 --replace)
fi-probe read $F --count 5 --size 1 >/dev/null
sleep 1
kill $fpid; wait $fpid 2>/dev/null
expect_eq events.follow-live "$(grep "\"experiment\":\"$id2\"" /tmp/follow.out | grep -c '"type":"inject"')" 3

# 3. the ring wraps (1024 entries) without losing the counters
$T arm --comm fi-probe --path $F --replace --duration 0 >/dev/null
out=$(fi-probe read $F --count 1500 --size 1)
$T events >/tmp/all.txt 2>/tmp/lost.txt
expect_eq events.wrap-counter-intact "$(kv err "$out"),$($T status | awk '$1 == "injected" { print $2 }')" "1500,1500"
expect_eq events.wrap-ring-size "$(wc -l </tmp/all.txt)" 1024
expect_match events.wrap-lost-reported "$(cat /tmp/lost.txt)" "event\(s\) lost"
$T off

# 4. verbose 1: one dmesg line per injection, rate-limited under a flood
dmesg_mark
$T arm --comm fi-probe --path $F --verbose 1 --replace >/dev/null
fi-probe read $F --count 2000 --size 1 >/dev/null
$T off
lines=$(dmesg_since | grep -c 'ARM-Fi-Read.*injected return -5')
if [ "$lines" -ge 1 ] && [ "$lines" -lt 2000 ]; then pass events.verbose1-ratelimited; else fail events.verbose1-ratelimited "lines=$lines of 2000"; fi
dmesg_mark
$T arm --comm fi-probe --path $F --verbose 0 --replace >/dev/null
fi-probe read $F --count 20 --size 1 >/dev/null
$T off
expect_eq events.verbose0-silent "$(dmesg_since | grep -c 'injected return')" 0
$T unload
