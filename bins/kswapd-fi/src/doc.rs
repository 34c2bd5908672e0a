//! kswapd-fi's help and man page words.

use crate::Kswapd;
use kvmfi::kernel_tool::{Doc, ToolDoc};

impl ToolDoc for Kswapd {
    fn doc() -> Doc {
        Doc::new(ABOUT, LONG_ABOUT, FILES, EXAMPLES)
    }
}

const ABOUT: &str = "Delay or skip memory reclaim for kswapd or the direct reclaim of a chosen process or cgroup";

const LONG_ABOUT: &str = "\
Delay or skip memory reclaim (shrink_node) for kswapd or the direct reclaim of a chosen process or cgroup.

The module kswapd-fi.ko (kernel name kswapd_fi) probes shrink_node, the reclaim of one memory node \
that kswapd (balance_pgdat) and direct reclaim (do_try_to_free_pages: a global allocation under \
pressure, or a memory cgroup over memory.max) both go through. --mode delay busy-waits --ms \
milliseconds before each pass, as the original tool did (the probe handler cannot sleep and runs with \
preemption disabled: keep the delay short); --mode skip returns at once, so the pass reclaims nothing \
and its caller retries and then gives up: kswapd marks the node hopeless for a while, a cgroup charge \
ends in the cgroup's OOM killer (memory.events oom_kill), a global allocation in the global one. No \
pointer is ever changed (the original tool set shrink_node's node pointer to NULL, which oopses).

Whose reclaim. Without a scope option: kswapd only (threads with PF_KSWAPD), so no --yes is needed. \
With --pid, --tgid, --comm or --cgroup: the direct reclaim done by those tasks (never kswapd), e.g. \
a memory-hungry program in a memory-limited cgroup. With --kswapd and a scope: the kswapd threads \
matching it (--comm kswapd0 for node 0 only).

Every fault is bounded by --times, --probability, --interval and a lease (--duration, 10 minutes \
unless given); `off`, `unload` and rmmod disarm at once. Hook candidates (first present is used): \
shrink_node. Legacy control files: /proc/kswapd-fi/{signal,times} (skip, kswapd only, 10-minute \
lease). Invoked as kswapd-fi-main (a link made by `make install`), the program is the original one: \
`kswapd-fi-main [TIMES]`, or with no arguments the original prompt (times).";

const FILES: &str = "/dev/kvmfi/kswapd_fi (control device, root only); /proc/kswapd-fi/{signal,times} (original control files).";

const EXAMPLES: &str = "  kswapd-fi arm --mode delay --ms 20 --duration 1m
  kswapd-fi arm --cgroup /sys/fs/cgroup/vm1 --mode skip --duration 30s
  kswapd-fi arm --kswapd --comm kswapd0 --mode skip --times 100
  kswapd-fi status
  kswapd-fi off";
