#!/bin/sh
# bench-timeout: 480
# bench-image-modules: loop dm-mod dm-flakey dm-delay ext4 crc32c_generic
# disk-fi: device-mapper faults under a loop-backed disk image. Bad sectors
# fail with EIO (raw direct reads and writes, and a file of an ext2 file
# system) while the rest reads fine; dm-flakey fails only in its down
# periods; dm-delay adds the configured latency (measured); a lease ends
# with a plain linear mapping (timer, or any later disk-fi run when the
# timer was killed); a device in use is never removed; recover after kill -9
# mid-apply removes the device and its loop device; nothing is left behind.
. /bench/lib.sh
export KVMFI_STATE_DIR=/tmp/kvmfi-journal
IMG=/tmp/disk.img

for m in loop dm-mod dm-flakey dm-delay; do
    load_image_module "$m" || { fail disk.modules "cannot load $m"; exit 0; }
done
pass disk.modules

now_cs() { awk '{ printf "%d", $1 * 100 }' /proc/uptime; }
# dm_count: device-mapper devices in /sys/block
dm_count() { find /sys/block -maxdepth 1 -name 'dm-*' | wc -l; }
# loop_of_img: loop devices still bound to the image
loop_of_img() { grep -l "$IMG" /sys/block/loop*/loop/backing_file 2>/dev/null | wc -l; }
# probe_rc LINE: 0 when the call succeeded, 1 on EIO, 2 otherwise
probe_rc() {
    [ "$(kv ok "$1")" = 1 ] && return 0
    [ "$(kv first_errno "$1")" = EIO ] && return 1
    echo "probe: $1" >&2
    return 2
}
# rd DEV SECTOR [COUNT]: one O_DIRECT read of COUNT 512-byte sectors (busybox
# dd falls back to buffered page reads when its buffer is not aligned)
rd() { probe_rc "$(fi-probe read "$1" --direct --offset $(($2 * 512)) --size $((${3:-1} * 512)))"; }
# wr DEV SECTOR: one O_DIRECT write of one sector
wr() { probe_rc "$(fi-probe pwrite "$1" --direct --offset $(($2 * 512)) --size 512)"; }
nothing_left() { # NAME: no device-mapper device, no loop device of the image
    expect_eq "$1.no-dm" "$(dm_count)" 0
    expect_eq "$1.no-loop" "$(loop_of_img)" 0
}

dd if=/dev/zero of=$IMG bs=1M count=8 2>/dev/null
SECTORS=16384

# --- bad input: one line, exit 2, nothing made -------------------------------
disk-fi badblocks $IMG --sectors $SECTORS 2>/tmp/err
expect_eq disk.bad-beyond-rc "$?" 2
expect_match disk.bad-beyond-msg "$(cat /tmp/err)" "beyond the end of the disk"
disk-fi badblocks /tmp/nonexistent.img --sectors 1 2>/dev/null
expect_eq disk.bad-missing-rc "$?" 2
disk-fi flaky $IMG --up 1 --down 0 2>/dev/null
expect_eq disk.bad-down0-rc "$?" 2
nothing_left disk.bad-input

# --- badblocks on the raw device: reads and writes ---------------------------
DEV=$(disk-fi badblocks $IMG --sectors 100-103,5000 --duration 5m)
expect_eq disk.bb-rc "$?" 0
expect_match disk.bb-dev "$DEV" '^/dev/dm-[0-9]+$'
rd "$DEV" 100; r1=$?
rd "$DEV" 103; r2=$?
rd "$DEV" 5000; r3=$?
expect_eq disk.bb-read-bad "$r1$r2$r3" 111
rd "$DEV" 99; g1=$?
rd "$DEV" 104; g2=$?
rd "$DEV" 4999; g3=$?
rd "$DEV" 0 64; g4=$?
rd "$DEV" 5001 1000; g5=$?
expect_eq disk.bb-read-good "$g1$g2$g3$g4$g5" 00000
rd "$DEV" 96 8; expect_eq disk.bb-read-spanning "$?" 1
wr "$DEV" 101; expect_eq disk.bb-write-bad "$?" 1
wr "$DEV" 200; expect_eq disk.bb-write-good "$?" 0
expect_match disk.bb-list "$(disk-fi list)" "kvmfi-[0-9]+	$DEV	open=0	fault	"
disk-fi off "$DEV"
expect_eq disk.bb-off-rc "$?" 0
nothing_left disk.bb-off

# --- badblocks --io write / read ----------------------------------------------
DEV=$(disk-fi badblocks $IMG --sectors 300 --io write)
expect_eq disk.bbw-rc "$?" 0
rd "$DEV" 300; rr=$?
wr "$DEV" 300; wrc=$?
expect_eq disk.bbw-read-ok-write-eio "$rr$wrc" 01
disk-fi off "$DEV" >/dev/null
DEV=$(disk-fi badblocks $IMG --sectors 300 --io read 2>/tmp/err)
rc=$?
if [ "$rc" = 4 ]; then
    skip disk.bbr "no dm-dust and no flakey error_reads on $BENCH_KREL: $(cat /tmp/err)"
else
    expect_eq disk.bbr-rc "$rc" 0
    rd "$DEV" 300; rr=$?
    wr "$DEV" 300; wrc=$?
    expect_eq disk.bbr-read-eio-write-ok "$rr$wrc" 10
    # dm-dust where the kernel has it (the debug kernel: CONFIG_DM_DUST=y in
    # /proc/config.gz): a write heals the sector, as a disk that remaps it;
    # flakey error_reads: the sector still fails
    rd "$DEV" 300; ra=$?
    if zcat /proc/config.gz 2>/dev/null | grep -Eq '^CONFIG_DM_DUST=[ym]'; then
        expect_match disk.bbr-dust "$(cat /tmp/err)" 'a write heals the sector \(dm-dust\)'
        expect_eq disk.bbr-dust-healed-by-write "$ra" 0
    elif grep -q 'heals the sector (dm-dust)' /tmp/err; then
        expect_eq disk.bbr-dust-healed-by-write "$ra" 0
    else
        expect_eq disk.bbr-flakey-still-bad-after-write "$ra" 1
    fi
    disk-fi off "$DEV" >/dev/null
fi
nothing_left disk.bbrw

# --- a file system: a file on bad sectors fails, another reads fine -----------
load_image_module crc32c_generic 2>/dev/null
if load_image_module ext4 2>/dev/null && mke2fs -F $IMG >/dev/null 2>&1; then
    L=$(losetup -f)
    losetup "$L" $IMG
    mkdir -p /mnt/d
    if mount -t ext2 "$L" /mnt/d 2>/tmp/err; then
        yes KVMFI-DISK-FI-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA | head -c 65536 >/mnt/d/a.bin
        yes KVMFI-DISK-FI-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB | head -c 65536 >/mnt/d/b.bin
        umount /mnt/d
        losetup -d "$L"
        off=$(strings -t d $IMG | grep KVMFI-DISK-FI-A | head -n 1 | awk '{ print $1 }')
        sec=$((off / 512))
        echo "disk: a.bin starts at byte $off (sector $sec)"
        DEV=$(disk-fi badblocks $IMG --sectors "$sec+8")
        ID=$(disk-fi list | awk -v d="$DEV" '$3 == d { print $1 }')
        mount -t ext2 -o ro "$DEV" /mnt/d
        expect_eq disk.fs-mount "$?" 0
        cat /mnt/d/a.bin >/dev/null 2>/tmp/err; ra=$?
        expect_match disk.fs-bad-file-eio "rc=$ra $(cat /tmp/err)" "rc=1 .*(Input/output|I/O) error"
        cat /mnt/d/b.bin >/tmp/b.out 2>&1; rb=$?
        expect_eq disk.fs-good-file "$rb $(head -n 1 /tmp/b.out)" "0 KVMFI-DISK-FI-BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
        # in use: off refuses and changes nothing; recover disarms and keeps it
        disk-fi off "$ID" 2>/tmp/err
        expect_eq disk.inuse-off-rc "$?" 1
        expect_match disk.inuse-off-msg "$(cat /tmp/err)" "in use \(open count [1-9].*mounted on /mnt/d.*unmount it or stop the VM"
        expect_match disk.inuse-off-kept "$(disk-fi list)" "^$ID	kvmfi-$ID	$DEV	open=[1-9]	fault	"
        disk-fi recover 2>/tmp/err
        expect_eq disk.inuse-recover-rc "$?" 1
        expect_match disk.inuse-recover-msg "$(cat /tmp/err)" "in use .*disarmed"
        expect_match disk.inuse-recover-kept "$(disk-fi list)" "^$ID	kvmfi-$ID	$DEV	open=[1-9]	disarmed	linear"
        expect_match disk.inuse-journal-kept "$(disk-fi status)" "^$ID	disk-fi	badblocks	"
        echo 3 >/proc/sys/vm/drop_caches
        expect_eq disk.fs-after-disarm "$(head -n 1 /mnt/d/a.bin)" KVMFI-DISK-FI-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA
        umount /mnt/d
        disk-fi recover >/dev/null
        expect_eq disk.inuse-recover-after-umount "$?" 0
        expect_eq disk.inuse-journal-empty "$(disk-fi status)" ""
    else
        fail disk.fs-mount-loop "$(cat /tmp/err)"
        losetup -d "$L"
    fi
    nothing_left disk.fs
else
    skip disk.fs "no ext4 module or mke2fs failed"
fi

# --- flaky: errors only in the down periods -----------------------------------
# dm-flakey's clock starts when its table is loaded, somewhere between t1
# (before disk-fi) and t0 (after it; seconds apart on the debug kernel under
# TCG). A sample (a probe from a to b, relative to t0) counts only when it
# lies inside one up (or down) period for every start in that window: its
# phase spans [a, b + t0 - t1]. Sampled for at least two cycles, and on
# until there are 3 samples of each kind (a probe takes 1-3 s on the debug
# kernel), for at most 12 cycles.
UP=4 DOWN=4
P=$(((UP + DOWN) * 100))
t1=$(now_cs)
DEV=$(disk-fi flaky $IMG --up $UP --down $DOWN)
rc=$?
t0=$(now_cs)
w=$((t0 - t1))
expect_eq disk.flaky-rc "$rc" 0
up_ok=0 up_bad=0 down_ok=0 down_bad=0 trace=""
while :; do
    a=$(($(now_cs) - t0))
    [ $a -ge $((2 * P)) ] && { [ $up_ok -ge 3 ] && [ $down_bad -ge 3 ] || [ $a -ge $((12 * P)) ]; } && break
    rd "$DEV" 0 8; r=$?
    b=$(($(now_cs) - t0 + w))
    pa=$((a % P)) pb=$((b % P))
    if [ $((a / P)) = $((b / P)) ] && [ $pa -ge 10 ] && [ $pb -le $((UP * 100 - 10)) ]; then
        if [ $r = 0 ]; then up_ok=$((up_ok + 1)); else up_bad=$((up_bad + 1)); fi
    elif [ $((a / P)) = $((b / P)) ] && [ $pa -ge $((UP * 100 + 10)) ] && [ $pb -le $((P - 10)) ]; then
        if [ $r = 0 ]; then down_ok=$((down_ok + 1)); else down_bad=$((down_bad + 1)); fi
    fi
    trace="$trace $a:$r"
    sleep 0.3
done
echo "disk: flaky up=${UP}s down=${DOWN}s table loaded within ${w} cs before t0; samples (cs:rc):$trace"
echo "disk: flaky up_ok=$up_ok up_bad=$up_bad down_ok=$down_ok down_bad=$down_bad"
expect_eq disk.flaky-up-never-fails "$up_bad" 0
expect_eq disk.flaky-down-always-fails "$down_ok" 0
expect_ge disk.flaky-up-samples "$up_ok" 3
expect_ge disk.flaky-down-samples "$down_bad" 3
disk-fi off "$DEV" >/dev/null
nothing_left disk.flaky

# --- delay: latency close to the configured value -----------------------------
DEV=$(disk-fi delay $IMG --read-ms 200 --write-ms 100)
expect_eq disk.delay-rc "$?" 0
t=$(now_cs)
r=$(fi-probe read "$DEV" --direct --count 10 --size 4096)
rcs=$(($(now_cs) - t))
expect_match disk.delay-reads-ok "$r" "^ok=10 err=0"
t=$(now_cs)
r=$(fi-probe pwrite "$DEV" --direct --count 10 --size 4096 --offset 8192)
wcs=$(($(now_cs) - t))
expect_match disk.delay-writes-ok "$r" "^ok=10 err=0"
# 10 I/Os: centiseconds for 10 = milliseconds for one
echo "disk: dm-delay read 200 ms configured: $rcs ms per 4k direct read; write 100 ms configured: $wcs ms per 4k direct write"
# at least the configured delay; the margin above is TCG on a busy 2-core host
# (seen: 212-283 ms for reads, 114-151 ms for writes)
if [ "$rcs" -ge 195 ] && [ "$rcs" -le 400 ]; then pass disk.delay-read-latency; else fail disk.delay-read-latency "$rcs ms, want 200"; fi
if [ "$wcs" -ge 95 ] && [ "$wcs" -le 300 ]; then pass disk.delay-write-latency; else fail disk.delay-write-latency "$wcs ms, want 100"; fi
disk-fi off "$DEV" >/dev/null
nothing_left disk.delay

# --- lease: the timer swaps in a plain linear mapping, the device stays -------
DEV=$(disk-fi badblocks $IMG --sectors 10 --duration 3s)
rd "$DEV" 10; expect_eq disk.lease-before "$?" 1
sleep 5
rd "$DEV" 10; expect_eq disk.lease-after "$?" 0
expect_match disk.lease-disarmed "$(disk-fi list)" "	$DEV	open=0	disarmed	linear	"
disk-fi off "$DEV" >/dev/null
# the timer killed: any later disk-fi run disarms an expired fault. The
# deadline is whole seconds: LEASE-1 to LEASE s after t1. The timer must be
# dead before it (disk-fi and the /proc scan take seconds on the debug
# kernel), and the device must still fail after it, until disk-fi runs.
LEASE=8
t1=$(now_cs)
DEV=$(disk-fi badblocks $IMG --sectors 10 --duration ${LEASE}s)
t0=$(now_cs)
ID=$(disk-fi list | awk -v d="$DEV" '$3 == d { print $1 }')
n=0
# the timer is a live disk-fi process: name and state read by the shell
# itself (no program started per process), then the exact tag (its last
# argument)
for p in /proc/[0-9]*; do
    read -r _ c st _ 2>/dev/null <"$p/stat" || continue
    [ "$c $st" = "(disk-fi) S" ] || [ "$c $st" = "(disk-fi) R" ] || continue
    tr '\0' ' ' <"$p/cmdline" | grep -q -- "--kvmfi-tag=kvmfi-disk-$ID \$" && kill -9 "${p#/proc/}" && n=$((n + 1))
done
k=$(($(now_cs) - t1))
expect_eq disk.lease-timer-killed "$n" 1
if [ $k -ge $(((LEASE - 1) * 100)) ]; then
    fail disk.lease-timer-killed-in-time "the timer was killed $k cs after disk-fi started, the deadline may have passed"
fi
while [ $(($(now_cs) - t0)) -lt $(((LEASE + 1) * 100)) ]; do sleep 0.5; done
rd "$DEV" 10; expect_eq disk.lease-timer-killed-still-armed "$?" 1
expect_match disk.lease-sweep "$(disk-fi list 2>&1)" "	$DEV	open=0	disarmed	linear	"
rd "$DEV" 10; expect_eq disk.lease-sweep-read "$?" 0
disk-fi off "$DEV" >/dev/null
# --wait: in the foreground until the lease ends
t=$(now_cs)
DEV=$(disk-fi delay $IMG --read-ms 10 --duration 2s --wait 2>/dev/null)
w=$(($(now_cs) - t))
if [ "$w" -ge 180 ] && [ "$w" -le 800 ]; then pass disk.wait-returns; else fail disk.wait-returns "${w} cs"; fi
expect_match disk.wait-disarmed "$(disk-fi list)" "	$DEV	open=0	disarmed	linear	"
disk-fi off "$DEV" >/dev/null
nothing_left disk.lease

# --- kill -9 mid-apply: recover removes it ------------------------------------
KVMFI_TEST_DIE_AFTER_APPLY=1 disk-fi badblocks $IMG --sectors 7 >/dev/null
expect_eq disk.killed-rc "$?" 137
expect_eq disk.killed-dm-left "$(dm_count)" 1
expect_match disk.killed-pending "$(disk-fi status)" "	disk-fi	badblocks	$IMG	pending	"
disk-fi recover
expect_eq disk.killed-recover-rc "$?" 0
nothing_left disk.killed
disk-fi recover
expect_eq disk.recover-again-noop "$?" 0
expect_eq disk.journal-empty "$(disk-fi status --all)" ""
rm -f $IMG
