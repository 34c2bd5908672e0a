#!/bin/sh
# bench-timeout: 120
# make demo: a read fault that hits one process and not another.
. /bench/lib.sh
export KVMFI_MODULE_DIR=/kmods
say() { echo "DEMO| $*"; }
IMG=/tmp/vm-disk.img
dd if=/dev/urandom of=$IMG bs=4096 count=16 2>/dev/null
say "A VM disk image: $IMG (64 KiB). Two processes will read it, 8 reads of 512 bytes each."
sh -c 'kill -STOP $$; exec fi-probe read "$0" --count 8 --size 512' $IMG >/tmp/demo.target &
target=$!
wait_stopped $target
say ""
say "\$ vfs-read-fi arm --tgid $target --path $IMG --errno EIO --times 5 --duration 30s"
id=$(vfs-read-fi arm --tgid $target --path $IMG --errno EIO --times 5 --duration 30s)
say "$id    <- experiment id"
kill -CONT $target
wait $target
other=$(fi-probe read $IMG --count 8 --size 512)
say ""
say "target process (pid $target): $(cat /tmp/demo.target)"
say "another process:             $other"
say ""
say "\$ vfs-read-fi status"
vfs-read-fi status | sed 's/^/DEMO| /'
say ""
say "kernel log:"
dmesg | grep 'ARM-Fi-Read' | sed 's/^/DEMO| /'
vfs-read-fi unload
expect_eq demo.target-failed-5 "$(kv err "$(cat /tmp/demo.target)")" 5
expect_eq demo.other-unaffected "$(kv err "$other")" 0
