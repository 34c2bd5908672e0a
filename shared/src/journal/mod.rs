//! The fault journal: every change a kvmfi tool makes to a host is written
//! to disk, with the steps that undo it, BEFORE it is applied, so that
//! `recover` can put the host back even after the tool was killed mid-way.
//!
//! [`store`] is the crash-safe store (records, lock, fsync, torn-tail
//! repair; its module header describes the files), generic over the step
//! type; this module binds it to the host's undo steps, [`crate::undo::Step`],
//! under the names the tools use.

pub mod store;

pub use crate::host::files::write_file_durably;
pub use crate::host::ns::ns_inode;
pub use crate::undo::{in_this_mountns, in_this_netns, Phase, Step, STEP_TIMEOUT};
pub use store::{dir, DEFAULT_DIR, DIR_ENV, LOCK_WAIT, TEST_DIE_ENV};

use crate::error::Result;
use std::path::Path;

/// The journal of this host, opened for changes.
pub type Journal = store::Journal<Step>;
/// A change to make, with its undo steps.
pub type Fault = store::Fault<Step>;
/// A fault in force, as `status` shows it.
pub type Entry = store::Entry<Step>;

/// Reads the faults in force from `dir`'s journal, oldest first (see
/// [`store::read_entries`]).
pub fn read_entries(dir: &Path) -> Result<Vec<Entry>> {
    store::read_entries(dir)
}

/// Prints entries for `status` (see [`store::print_entries`]).
pub fn print_entries(entries: &[Entry], json: bool) -> Result<()> {
    store::print_entries(entries, json)
}
