//! disk-fi: faults under a VM's disk through device-mapper (see `man
//! disk-fi`). The target is an image file (attached through a loop device)
//! or a block device; disk-fi puts a device-mapper device `kvmfi-ID` on top
//! of it and prints that device's path, to which the VM (or the file
//! system) is pointed. Setup and teardown are journaled like every other
//! user-space fault.
//!
//! The clap definition is [`command()`] (the man page is generated from
//! it); [`run`] is the whole tool, called by the one-line `main.rs`.

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use kvmfi::host::block::{self, Backing, Control, Target};
use kvmfi::injector::{Common, Ctx, RecoverArgs, StatusArgs};
use kvmfi::journal::{self, Entry, Fault, Journal, Step};
use kvmfi::run::{out, out_json};
use kvmfi::{units, Error, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The tool's name in messages and in the journal.
pub const TOOL: &str = "disk-fi";
/// Prefix of every device-mapper device disk-fi creates.
pub const PREFIX: &str = "kvmfi-";
/// argv[1] of the lease timer disk-fi starts detached.
pub const HELPER_ARG: &str = "--kvmfi-helper";
/// Most bad sectors dm-dust is given one message each for.
pub const MAX_DUST_SECTORS: u64 = 65_536;

const AFTER_LONG_HELP: &str = concat!(
    "\
HOW IT WORKS:
An image file is bound to a free loop device (LOOP_CONFIGURE with autoclear, so the loop device goes away with the last user); a block device is used as it is (it must not be mounted). On top, disk-fi creates the device-mapper device kvmfi-ID (ID = the fault id in the journal) and prints its path, /dev/dm-N: point the VM, or mount the file system, there. Everything goes through the device-mapper and loop ioctls (no dmsetup or losetup needed); dm-mod, dm-flakey, dm-delay and loop are loaded with modprobe when missing.
badblocks: the sectors listed fail with EIO. --io both (default): a table of linear segments and error segments, so reads AND writes of those sectors fail. --io write: flakey segments that are always down with error_writes (writes fail, reads pass). --io read: dm-dust where the kernel has it (reads fail; a write to a bad sector heals it, as a disk that remaps it), else flakey segments with error_reads (Linux 6.6 and later); on a kernel with neither (Debian 6.1: CONFIG_DM_DUST is off, dm-flakey has no error_reads) it is refused with exit 4. Sectors are 512 bytes; an I/O that touches a bad sector fails whole.
flaky: dm-flakey over the whole device: --up SECS of normal service, then --down SECS of failure, repeating from the moment the device is created. --mode error fails all I/O while down; error-reads / error-writes fail only reads / writes (error-reads needs Linux 6.6 or later); drop-writes reports writes as done but drops them; corrupt writes (or, with --corrupt-dir read, returns) byte --corrupt-byte of each bio as --corrupt-value.
delay: dm-delay: every read waits --read-ms, every write --write-ms milliseconds before it goes to the disk.

LEASE:
Every fault is bounded by --duration (default 10m; 0 = until off or recover). At the deadline the fault is disarmed: the device's table becomes one plain linear mapping of the whole disk (suspend, swap, resume), so the device stays and whoever uses it carries on, now without faults. A detached timer process (this program, tagged --kvmfi-tag=kvmfi-disk-ID) does that even after disk-fi exits; the deadline is also in the journal, so any later disk-fi command (list, status, off, recover, a new fault) disarms an expired fault whose timer was killed. --wait keeps disk-fi in the foreground until the deadline and disarms it itself. 'disarm ID' ends a fault at once and keeps the device.

UNDO:
Every setup is written to the journal, with how to undo it, before it is made (fsync'ed): remove device-mapper device kvmfi-ID if it exists, stop its lease timer, detach the loop device if it is still bound to the same image file (device and inode). 'off ID|DEVICE' removes one device and its loop device; 'recover' undoes every fault of disk-fi, even after disk-fi was killed half-way; both only ever touch what disk-fi created, and a second 'recover' does nothing. A device that is still open (a mounted file system, a running VM; the open count of DM_DEV_STATUS) is never removed under its user: 'off' refuses and changes nothing, 'recover' disarms it (plain linear mapping), leaves it in place, reports it and keeps it in the journal. Unmount it or stop the VM, then run 'off' or 'recover' again.

EXIT STATUS:
  0  success (also when the output pipe was closed by the reader)
  1  the operation failed (the kernel refused it), or the device is in use
  2  usage error: bad option, sector beyond the end of the disk, missing or mounted target; nothing changed
  3  not root (every command but status and --dry-run needs root)
  4  unsupported here: no device-mapper, loop driver or target type (dm-flakey, dm-delay, dm-dust, error_reads)
  5  no such fault or device

ENVIRONMENT:
",
    kvmfi::injector_help!(KVMFI_STATE_DIR),
    kvmfi::injector_help!(KVMFI_TEST_DIE_AFTER_APPLY),
    "
FILES:
  /dev/mapper/control                   the device-mapper control device
  /dev/loop-control                     the loop control device
  /var/lib/kvmfi/journal/journal.jsonl  the journal
  /var/lib/kvmfi/journal/logs/          output of the lease timers

EXAMPLES:
  dev=$(disk-fi badblocks /var/lib/libvirt/images/vm.img --sectors 2048-2055,4096 --duration 5m)
  disk-fi flaky /dev/vdb --up 20 --down 5 --mode error-writes
  disk-fi delay vm.img --read-ms 50 --write-ms 200 --duration 2m --wait
  disk-fi list; disk-fi off 3; disk-fi recover
",
);

/// Faults under a VM's disk through device-mapper, always undoable.
#[derive(Parser, Debug)]
#[command(
    name = "disk-fi",
    version,
    about = "Faults under a VM's disk: bad sectors, flaky intervals, latency (device-mapper); journaled, undone by 'recover'",
    long_about = "Faults under a VM's disk: the target (an image file through a loop device, or a block \
device) gets a device-mapper device on top whose chosen sectors fail with EIO (badblocks), which fails \
in intervals (flaky, dm-flakey) or which is slow (delay, dm-delay). disk-fi prints the new device's \
path; point the VM or the file system at it. Every setup is journaled before it is made, bounded by a \
lease, and undone by 'off' or 'recover', which never remove a device that is still in use.",
    after_long_help = AFTER_LONG_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// How long a fault lasts.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Lease")]
pub struct Lease {
    /// Lease: disarm by itself after this long (500ms, 30s, 5m, 2h; 0 = until off or recover); the
    /// device stays, as a plain linear mapping
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = units::parse_duration)]
    pub duration: Duration,
    /// Stay in the foreground until the lease ends, then disarm and exit
    #[arg(long)]
    pub wait: bool,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Chosen sectors fail with EIO (reads and writes, or only one of them)
    Badblocks {
        /// The disk: an image file or a block device
        #[arg(value_name = "TARGET")]
        target: PathBuf,
        /// Bad sectors (512 bytes): N, FIRST-LAST or FIRST+COUNT, comma-separated, repeatable
        #[arg(long, value_name = "LIST", required = true, value_parser = parse_ranges)]
        sectors: Vec<Vec<(u64, u64)>>,
        /// Which I/O fails
        #[arg(long, value_enum, default_value_t = Io::Both)]
        io: Io,
        #[command(flatten)]
        lease: Lease,
    },
    /// The disk works for --up seconds, fails for --down seconds, and so on (dm-flakey)
    Flaky {
        /// The disk: an image file or a block device
        #[arg(value_name = "TARGET")]
        target: PathBuf,
        /// Seconds of normal service per cycle (0 = always down)
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(0..=86400))]
        up: u32,
        /// Seconds of failure per cycle
        #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u32).range(1..=86400))]
        down: u32,
        /// What happens while down
        #[arg(long, value_enum, default_value_t = FlakyMode::Error)]
        mode: FlakyMode,
        /// corrupt: which byte of each bio (1 = the first)
        #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        corrupt_byte: u32,
        /// corrupt: the value written into that byte (0-255)
        #[arg(long, value_name = "V", default_value_t = 255)]
        corrupt_value: u8,
        /// corrupt: corrupt what is written, or what is read
        #[arg(long, value_enum, default_value_t = Dir::Write)]
        corrupt_dir: Dir,
        #[command(flatten)]
        lease: Lease,
    },
    /// Every read and write waits a while before it goes to the disk (dm-delay)
    Delay {
        /// The disk: an image file or a block device
        #[arg(value_name = "TARGET")]
        target: PathBuf,
        /// Milliseconds added to every read (0 to 60000)
        #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=60000))]
        read_ms: u32,
        /// Milliseconds added to every write (0 to 60000)
        #[arg(long, value_name = "MS", default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=60000))]
        write_ms: u32,
        #[command(flatten)]
        lease: Lease,
    },
    /// The devices disk-fi created: id, name, device, open count, state, table, lease left
    List {
        /// One JSON object per line instead of tab-separated fields
        #[arg(long)]
        json: bool,
    },
    /// The journaled faults in force (id, tool, kind, target, state, since, description)
    Status(StatusArgs),
    /// End a fault now but keep the device: its table becomes a plain linear mapping
    Disarm {
        /// The fault id, the device name kvmfi-ID or its path (/dev/dm-N, /dev/mapper/kvmfi-ID)
        #[arg(value_name = "ID|DEVICE")]
        which: String,
    },
    /// Remove a device and its loop device (refused while the device is in use)
    #[command(visible_alias = "remove")]
    Off {
        /// The fault id, the device name kvmfi-ID or its path (/dev/dm-N, /dev/mapper/kvmfi-ID)
        #[arg(value_name = "ID|DEVICE")]
        which: String,
    },
    /// Undo every fault of disk-fi (or one, or every kvmfi tool's); devices in use are disarmed and kept
    Recover(RecoverArgs),
}

/// Which I/O fails on a bad sector.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// Reads and writes (linear + error table)
    Both,
    /// Reads only (dm-dust, else dm-flakey error_reads)
    Read,
    /// Writes only (dm-flakey error_writes)
    Write,
}

/// What dm-flakey does while down.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlakyMode {
    /// All I/O fails with EIO
    Error,
    /// Reads fail, writes pass (Linux 6.6 and later)
    ErrorReads,
    /// Writes fail, reads pass
    ErrorWrites,
    /// Writes are reported done but dropped
    DropWrites,
    /// One byte of each bio is overwritten
    Corrupt,
}

/// A direction of I/O.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Read,
    Write,
}

/// Parses `N`, `FIRST-LAST`, `FIRST+COUNT`, comma-separated, into
/// half-open ranges `[start, end)`.
pub fn parse_ranges(text: &str) -> std::result::Result<Vec<(u64, u64)>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim) {
        let num = |s: &str| s.trim().parse::<u64>().map_err(|_| format!("'{part}': write N, FIRST-LAST or FIRST+COUNT (sector numbers)"));
        let r = if let Some((a, b)) = part.split_once('-') {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(format!("'{part}': the last sector is before the first"));
            }
            (a, b.checked_add(1).ok_or_else(|| format!("'{part}' is too large"))?)
        } else if let Some((a, n)) = part.split_once('+') {
            let (a, n) = (num(a)?, num(n)?);
            if n == 0 {
                return Err(format!("'{part}': a count of 0 sectors"));
            }
            (a, a.checked_add(n).ok_or_else(|| format!("'{part}' is too large"))?)
        } else {
            let a = num(part)?;
            (a, a.checked_add(1).ok_or_else(|| format!("'{part}' is too large"))?)
        };
        out.push(r);
    }
    Ok(out)
}

/// Sorts and merges ranges; fails when one reaches beyond `total` sectors.
pub fn merge_ranges(mut ranges: Vec<(u64, u64)>, total: u64) -> Result<Vec<(u64, u64)>> {
    ranges.sort();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (a, b) in ranges {
        if b > total {
            return Err(Error::usage(format!(
                "sector {} is beyond the end of the disk ({total} sectors of 512 bytes: 0 to {})",
                b - 1,
                total - 1
            )));
        }
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok(merged)
}

fn fmt_ranges(ranges: &[(u64, u64)]) -> String {
    ranges
        .iter()
        .map(|(a, b)| if b - a == 1 { a.to_string() } else { format!("{a}-{}", b - 1) })
        .collect::<Vec<_>>()
        .join(",")
}

/// The plain mapping of the whole disk.
pub fn linear(base: &str, total: u64) -> Target {
    Target { start: 0, len: total, kind: "linear".into(), params: format!("{base} 0") }
}

/// The table of a badblocks fault: `bad` (merged, within `total`) map to
/// `bad_kind` segments, the rest to `linear`.
pub fn segment_table(base: &str, total: u64, bad: &[(u64, u64)], bad_kind: &str, bad_params: impl Fn(u64) -> String) -> Vec<Target> {
    let mut t = Vec::new();
    let mut at = 0;
    for &(a, b) in bad {
        if a > at {
            t.push(Target { start: at, len: a - at, kind: "linear".into(), params: format!("{base} {at}") });
        }
        t.push(Target { start: a, len: b - a, kind: bad_kind.into(), params: bad_params(a) });
        at = b;
    }
    if at < total {
        t.push(Target { start: at, len: total - at, kind: "linear".into(), params: format!("{base} {at}") });
    }
    t
}

/// One fault to set up: its table (and dm-dust messages) over `base`.
struct Plan {
    kind: &'static str,
    table: Vec<Target>,
    messages: Vec<String>,
    desc: String,
}

fn now_unix() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The `DmRemove` step of a journal entry: (name, linear line, deadline).
fn dm_of(e: &Entry) -> Option<(String, String, u64)> {
    e.undo.iter().find_map(|s| match s {
        Step::DmRemove { name, linear, deadline } => Some((name.clone(), linear.clone(), *deadline)),
        _ => None,
    })
}

/// Disarms every fault of disk-fi whose lease has ended (its timer may
/// have been killed). Best effort; says what it did on stderr.
fn sweep_expired(ctl: &Control) {
    let now = now_unix();
    for e in journal::read_entries(&journal::dir()).unwrap_or_default().iter().filter(|e| e.tool == TOOL) {
        if let Some((name, lin, deadline)) = dm_of(e) {
            if deadline > 0 && now >= deadline {
                if let Ok(true) = block::disarm(ctl, &name, &lin) {
                    eprintln!("{TOOL}: fault {}: lease ended, {name} is now a plain linear mapping", e.id);
                }
            }
        }
    }
}

/// Sets up one fault: journal, loop device, dm device, lease timer.
fn inject(ctx: &Ctx, target: &Path, lease: &Lease, make: impl FnOnce(&str, u64, Option<&Control>) -> Result<Plan>, needs: &[&str]) -> Result<()> {
    if lease.wait && lease.duration.is_zero() {
        return Err(Error::usage("--wait needs a lease: give --duration (not 0)"));
    }
    let backing = Backing::inspect(target)?;
    let total = backing.sectors();
    if ctx.dry_run {
        return dry_run(&backing, lease, make);
    }
    ctx.require_root()?;
    let ctl = Control::open()?;
    for kind in needs {
        ctl.require_target(kind)?;
    }
    sweep_expired(&ctl);
    let mut j = ctx.journal()?;
    let id = j.next_id()?;
    let name = format!("{PREFIX}{id}");
    let (base, loop_nr, file_id) = match &backing {
        Backing::File { path, .. } => {
            let n = block::loop_get_free()?;
            (block::loop_path(n).display().to_string(), Some(n), Some(block::file_id(path)?))
        }
        Backing::Block { majmin, .. } => (format!("{}:{}", majmin.0, majmin.1), None, None),
    };
    let plan = make(&base, total, Some(&ctl))?;
    let fault = build_fault(id, &name, &backing, &base, loop_nr, file_id, lease, plan)?;
    let desc = fault.desc.clone();
    j.apply(id, fault)?;
    drop(j);
    let st = ctl.status(&name)?.ok_or_else(|| Error::failed(format!("{name} is gone right after it was made")))?;
    let path = block::ensure_dm_node(&st)?;
    eprintln!("{TOOL}: fault {id}: {name} = {}: {desc}", path.display());
    out(path.display())?;
    if lease.wait {
        std::thread::sleep(lease.duration);
        let lin = linear(&base, total).line();
        block::disarm(&ctl, &name, &lin)?;
        eprintln!("{TOOL}: fault {id}: lease ended, {name} is now a plain linear mapping (remove it with 'disk-fi off {id}')");
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn build_fault(
    id: u64,
    name: &str,
    backing: &Backing,
    base: &str,
    loop_nr: Option<u32>,
    file_id: Option<(u64, u64)>,
    lease: &Lease,
    plan: Plan,
) -> Result<Fault> {
    let total = backing.sectors();
    let lin = linear(base, total).line();
    let deadline = if lease.duration.is_zero() { 0 } else { now_unix() + lease.duration.as_secs().max(1) };
    let file = match backing {
        Backing::File { path, .. } => Some(path.display().to_string()),
        Backing::Block { .. } => None,
    };
    let mut apply = vec![Step::DmCreate {
        name: name.into(),
        table: plan.table.iter().map(Target::line).collect(),
        loop_file: file.clone(),
        loop_nr,
        messages: plan.messages,
    }];
    let tag = format!("kvmfi-disk-{id}");
    let mut undo = vec![Step::DmRemove { name: name.into(), linear: lin.clone(), deadline }];
    if deadline > 0 {
        let exe = std::env::current_exe().map_err(|e| Error::io("finding this program", e))?.display().to_string();
        apply.push(Step::Spawn {
            argv: vec![exe, HELPER_ARG.into(), "disarm".into(), name.into(), deadline.to_string(), lin, kvmfi::injector::steps::tag_arg(&tag)],
            tag: tag.clone(),
        });
        undo.push(Step::KillTagged { tag });
    }
    if let (Some(f), Some(n)) = (&file, loop_nr) {
        let (dev, ino) = file_id.unwrap_or((0, 0));
        undo.push(Step::LoopDetach { loop_nr: n, file: f.clone(), dev, ino });
    }
    let over = match loop_nr {
        Some(n) if n != u32::MAX => format!(" over /dev/loop{n}"),
        Some(_) => " over /dev/loopN".into(),
        None => String::new(),
    };
    let lease_text = if deadline > 0 { format!("lease {}s", lease.duration.as_secs().max(1)) } else { "no lease".into() };
    Ok(Fault {
        kind: plan.kind.into(),
        target: backing.path().display().to_string(),
        desc: format!("{}; {name}{over}; {lease_text}", plan.desc),
        apply,
        undo,
    })
}

fn dry_run(backing: &Backing, lease: &Lease, make: impl FnOnce(&str, u64, Option<&Control>) -> Result<Plan>) -> Result<()> {
    let (base, loop_nr, file_id) = match backing {
        Backing::File { path, .. } => ("/dev/loopN".to_string(), Some(u32::MAX), block::file_id(path).ok()),
        Backing::Block { majmin, .. } => (format!("{}:{}", majmin.0, majmin.1), None, None),
    };
    // Without root there is no control device: plan for a kernel without dm-dust.
    let ctl = Control::open().ok();
    let plan = make(&base, backing.sectors(), ctl.as_ref())?;
    build_fault(0, "kvmfi-ID", backing, &base, loop_nr, file_id, lease, plan)?.print_dry_run()
}

fn has_dust(ctl: Option<&Control>) -> bool {
    let Some(ctl) = ctl else { return false };
    let present = || ctl.target_types().map(|t| t.iter().any(|k| k == "dust")).unwrap_or(false);
    present() || {
        block::modprobe("dm-dust");
        present()
    }
}

fn plan_badblocks(base: &str, total: u64, ranges: &[(u64, u64)], io: Io, ctl: Option<&Control>) -> Result<Plan> {
    let bad = merge_ranges(ranges.to_vec(), total)?;
    let count: u64 = bad.iter().map(|(a, b)| b - a).sum();
    let list = fmt_ranges(&bad);
    Ok(match io {
        Io::Both => Plan {
            kind: "badblocks",
            table: segment_table(base, total, &bad, "error", |_| String::new()),
            messages: vec![],
            desc: format!("{count} bad sectors {list}: reads and writes fail with EIO (error segments)"),
        },
        Io::Write => Plan {
            kind: "badblocks",
            table: segment_table(base, total, &bad, "flakey", |a| format!("{base} {a} 0 1 1 error_writes")),
            messages: vec![],
            desc: format!("{count} bad sectors {list}: writes fail with EIO, reads pass (flakey error_writes)"),
        },
        Io::Read if has_dust(ctl) => {
            if count > MAX_DUST_SECTORS {
                return Err(Error::usage(format!("--io read with dm-dust takes at most {MAX_DUST_SECTORS} sectors ({count} given)")));
            }
            let mut messages: Vec<String> = bad.iter().flat_map(|&(a, b)| (a..b).map(|s| format!("addbadblock {s}"))).collect();
            messages.push("enable".into());
            Plan {
                kind: "badblocks",
                table: vec![Target { start: 0, len: total, kind: "dust".into(), params: format!("{base} 0 512") }],
                messages,
                desc: format!("{count} bad sectors {list}: reads fail with EIO, a write heals the sector (dm-dust)"),
            }
        }
        Io::Read => {
            if let Some(c) = ctl {
                c.require_target("flakey")?;
            }
            Plan {
            kind: "badblocks",
            table: segment_table(base, total, &bad, "flakey", |a| format!("{base} {a} 0 1 1 error_reads")),
            messages: vec![],
            desc: format!("{count} bad sectors {list}: reads fail with EIO, writes pass (flakey error_reads; no dm-dust here)"),
        }
        }
    })
}

#[allow(clippy::too_many_arguments)]
fn plan_flaky(base: &str, total: u64, up: u32, down: u32, mode: FlakyMode, byte: u32, value: u8, dir: Dir) -> Plan {
    let features = match mode {
        FlakyMode::Error => String::new(),
        FlakyMode::ErrorReads => " 1 error_reads".into(),
        FlakyMode::ErrorWrites => " 1 error_writes".into(),
        FlakyMode::DropWrites => " 1 drop_writes".into(),
        FlakyMode::Corrupt => format!(" 5 corrupt_bio_byte {byte} {} {value} 0", if dir == Dir::Read { 'r' } else { 'w' }),
    };
    let what = match mode {
        FlakyMode::Error => "all I/O fails with EIO".to_string(),
        FlakyMode::ErrorReads => "reads fail with EIO".into(),
        FlakyMode::ErrorWrites => "writes fail with EIO".into(),
        FlakyMode::DropWrites => "writes are dropped".into(),
        FlakyMode::Corrupt => format!("byte {byte} of each {} becomes {value}", if dir == Dir::Read { "read" } else { "write" }),
    };
    Plan {
        kind: "flaky",
        table: vec![Target { start: 0, len: total, kind: "flakey".into(), params: format!("{base} 0 {up} {down}{features}") }],
        messages: vec![],
        desc: format!("up {up}s, down {down}s: {what} while down"),
    }
}

fn plan_delay(base: &str, total: u64, read_ms: u32, write_ms: u32) -> Plan {
    Plan {
        kind: "delay",
        table: vec![Target {
            start: 0,
            len: total,
            kind: "delay".into(),
            params: format!("{base} 0 {read_ms} {base} 0 {write_ms}"),
        }],
        messages: vec![],
        desc: format!("reads +{read_ms} ms, writes +{write_ms} ms"),
    }
}

/// One row of `list`.
#[derive(Serialize)]
struct Row {
    id: Option<u64>,
    name: String,
    device: String,
    open_count: i32,
    state: String,
    table: String,
    lease_left_s: Option<u64>,
    target: Option<String>,
}

fn list(json: bool) -> Result<()> {
    kvmfi::error::require_root(TOOL)?;
    let ctl = Control::open()?;
    sweep_expired(&ctl);
    let entries = journal::read_entries(&journal::dir())?;
    let now = now_unix();
    let mut devs = ctl.list()?;
    devs.sort();
    for (name, _) in devs.into_iter().filter(|(n, _)| n.starts_with(PREFIX)) {
        let Some(st) = ctl.status(&name)? else { continue };
        let table = ctl.table(&name)?;
        let entry = entries.iter().find(|e| e.tool == TOOL && dm_of(e).is_some_and(|d| d.0 == name));
        let deadline = entry.and_then(dm_of).map(|d| d.2).filter(|d| *d > 0);
        let mut kinds: Vec<&str> = table.iter().map(|t| t.kind.as_str()).collect();
        kinds.dedup();
        let row = Row {
            id: entry.map(|e| e.id),
            name: name.clone(),
            device: st.path().display().to_string(),
            open_count: st.open_count,
            state: if block::is_plain(&table) { "disarmed".into() } else { "fault".into() },
            table: kinds.join(","),
            lease_left_s: deadline.map(|d| d.saturating_sub(now)),
            target: entry.map(|e| e.target.clone()),
        };
        if json {
            out_json(&row)?;
        } else {
            out(format!(
                "{}\t{}\t{}\topen={}\t{}\t{}\t{}\t{}",
                row.id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                row.name,
                row.device,
                row.open_count,
                row.state,
                row.table,
                row.lease_left_s.map(|s| format!("lease={s}s")).unwrap_or_else(|| "lease=none".into()),
                row.target.as_deref().unwrap_or("-")
            ))?;
        }
    }
    Ok(())
}

/// Finds the journaled fault of `which`: an id, a name kvmfi-ID, or a
/// device path (/dev/dm-N, /dev/mapper/kvmfi-ID).
fn resolve(which: &str, ctl: Option<&Control>) -> Result<(Entry, String, String)> {
    let entries: Vec<Entry> = journal::read_entries(&journal::dir())?.into_iter().filter(|e| e.tool == TOOL).collect();
    let name = if let Ok(id) = which.parse::<u64>() {
        format!("{PREFIX}{id}")
    } else if which.starts_with(PREFIX) && !which.contains('/') {
        which.to_string()
    } else {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(which).map_err(|e| Error::not_found(format!("{which}: {e}")))?;
        let ctl = ctl.ok_or_else(|| Error::not_found(format!("{which}: cannot ask device-mapper for its name")))?;
        ctl.list()?
            .into_iter()
            .find(|(_, dev)| block::dev_majmin(*dev) == block::dev_majmin(m.rdev()))
            .map(|(n, _)| n)
            .ok_or_else(|| Error::not_found(format!("{which} is not a device-mapper device")))?
    };
    let e = entries
        .into_iter()
        .find(|e| dm_of(e).is_some_and(|d| d.0 == name))
        .ok_or_else(|| Error::not_found(format!("no fault of disk-fi made {name}; see 'disk-fi list' and 'disk-fi status'")))?;
    let lin = dm_of(&e).map(|d| d.1).unwrap_or_default();
    Ok((e, name, lin))
}

fn disarm_cmd(ctx: &Ctx, which: &str) -> Result<()> {
    if ctx.dry_run {
        let (e, name, lin) = resolve(which, None)?;
        return out(format!("dmsetup load {name} --table {} && dmsetup resume {name}  # fault {}", kvmfi::host::exec::shell_quote(&lin), e.id));
    }
    ctx.require_root()?;
    let ctl = Control::open()?;
    let (e, name, lin) = resolve(which, Some(&ctl))?;
    if ctl.status(&name)?.is_none() {
        return Err(Error::not_found(format!("{name} does not exist any more; 'disk-fi off {}' clears the journal", e.id)));
    }
    let swapped = block::disarm(&ctl, &name, &lin)?;
    out(format!("{}\t{}\t{}", e.id, if swapped { "disarmed" } else { "already-disarmed" }, name))
}

fn off_cmd(ctx: &Ctx, which: &str) -> Result<()> {
    if ctx.dry_run {
        let (e, _, _) = resolve(which, None)?;
        return ctx.undo_where(|x| x.id == e.id).map(|_| ());
    }
    ctx.require_root()?;
    let ctl = Control::open()?;
    sweep_expired(&ctl);
    let (e, name, _) = resolve(which, Some(&ctl))?;
    if let Some(st) = ctl.status(&name)? {
        if st.open_count > 0 {
            return Err(block::busy_error(
                &st,
                &format!("nothing changed ('disk-fi disarm {}' ends the fault now and keeps the device)", e.id),
            ));
        }
    }
    let mut j: Journal = ctx.journal()?;
    let done = j.undo(e.id)?;
    out(format!("{}\tremoved\t{}\t{}", done.id, name, done.target))
}

/// The lease timer: `disarm NAME DEADLINE LINEAR --kvmfi-tag=TAG`.
fn helper_main(args: &[String]) -> Result<()> {
    use std::io::Write;
    let [what, name, deadline, lin, ..] = args else { return Err(Error::usage("bad helper arguments")) };
    if what != "disarm" {
        return Err(Error::usage(format!("unknown helper '{what}'")));
    }
    let deadline: u64 = deadline.parse().map_err(|_| Error::usage("bad deadline"))?;
    {
        let mut o = std::io::stdout().lock();
        writeln!(o, "ready").and_then(|_| o.flush()).map_err(|e| Error::io("writing ready", e))?;
    }
    loop {
        let now = now_unix();
        if now >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs((deadline - now).min(60)));
    }
    let ctl = Control::open()?;
    if block::disarm(&ctl, name, lin)? {
        eprintln!("{TOOL}: lease ended, {name} is now a plain linear mapping");
    }
    Ok(())
}

/// The clap command (for man pages and completions).
pub fn command() -> clap::Command {
    Cli::command()
}

/// Runs the tool on `args` (argv[0] included).
pub fn run(args: impl kvmfi::cliparse::Argv) -> Result<()> {
    let Some(cli) = kvmfi::cliparse::parse_or_helper::<Cli>(command(), args, HELPER_ARG, helper_main)? else { return Ok(()) };
    let ctx = Ctx { tool: TOOL, dry_run: cli.common.dry_run };
    match cli.cmd {
        Cmd::Badblocks { target, sectors, io, lease } => {
            let ranges: Vec<(u64, u64)> = sectors.into_iter().flatten().collect();
            // Bad input is refused before anything is opened or changed.
            merge_ranges(ranges.clone(), Backing::inspect(&target)?.sectors())?;
            let needs: &[&str] = match io {
                Io::Both => &["error", "linear"],
                Io::Write => &["linear", "flakey"],
                // dm-dust, else flakey: checked while planning.
                Io::Read => &["linear"],
            };
            inject(&ctx, &target, &lease, |base, total, ctl| plan_badblocks(base, total, &ranges, io, ctl), needs)
        }
        Cmd::Flaky { target, up, down, mode, corrupt_byte, corrupt_value, corrupt_dir, lease } => inject(
            &ctx,
            &target,
            &lease,
            |base, total, _| Ok(plan_flaky(base, total, up, down, mode, corrupt_byte, corrupt_value, corrupt_dir)),
            &["flakey"],
        ),
        Cmd::Delay { target, read_ms, write_ms, lease } => {
            if read_ms == 0 && write_ms == 0 {
                return Err(Error::usage("give --read-ms and/or --write-ms (a delay of 0 ms is no fault)"));
            }
            inject(&ctx, &target, &lease, |base, total, _| Ok(plan_delay(base, total, read_ms, write_ms)), &["delay"])
        }
        Cmd::List { json } => list(json),
        Cmd::Status(a) => {
            if !ctx.dry_run && nix_is_root() {
                if let Ok(ctl) = Control::open() {
                    sweep_expired(&ctl);
                }
            }
            ctx.status(&a)
        }
        Cmd::Disarm { which } => disarm_cmd(&ctx, &which),
        Cmd::Off { which } => off_cmd(&ctx, &which),
        Cmd::Recover(a) => {
            if !ctx.dry_run {
                ctx.require_root()?;
                if let Ok(ctl) = Control::open() {
                    sweep_expired(&ctl);
                }
            }
            ctx.recover(&a)
        }
    }
}

fn nix_is_root() -> bool {
    kvmfi::error::require_root(TOOL).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_ranges("5").unwrap(), vec![(5, 6)]);
        assert_eq!(parse_ranges("5-7,10+2").unwrap(), vec![(5, 8), (10, 12)]);
        assert!(parse_ranges("7-5").is_err());
        assert!(parse_ranges("x").is_err());
        assert!(parse_ranges("3+0").is_err());
        assert_eq!(merge_ranges(vec![(10, 12), (5, 8), (7, 11)], 100).unwrap(), vec![(5, 12)]);
        assert!(merge_ranges(vec![(99, 101)], 100).is_err());
        assert_eq!(fmt_ranges(&[(5, 6), (8, 10)]), "5,8-9");
    }

    #[test]
    fn tables() {
        let t = segment_table("/dev/loop0", 100, &[(0, 2), (50, 51)], "error", |_| String::new());
        let lines: Vec<String> = t.iter().map(Target::line).collect();
        assert_eq!(lines, vec!["0 2 error", "2 48 linear /dev/loop0 2", "50 1 error", "51 49 linear /dev/loop0 51"]);
        assert_eq!(t.iter().map(|x| x.len).sum::<u64>(), 100);
        let t = segment_table("7:0", 10, &[(9, 10)], "flakey", |a| format!("7:0 {a} 0 1 1 error_writes"));
        assert_eq!(t[1].line(), "9 1 flakey 7:0 9 0 1 1 error_writes");
        assert_eq!(plan_delay("7:0", 8, 5, 6).table[0].line(), "0 8 delay 7:0 0 5 7:0 0 6");
        assert_eq!(
            plan_flaky("7:0", 8, 3, 2, FlakyMode::Corrupt, 1, 255, Dir::Write).table[0].line(),
            "0 8 flakey 7:0 0 3 2 5 corrupt_bio_byte 1 w 255 0"
        );
    }
}
