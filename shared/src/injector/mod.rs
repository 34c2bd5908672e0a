//! The parts every user-space injector shares (hadoop_injector,
//! cloudstack_injector, disk-fi, and later ones). From the bottom: the
//! files that PLAN faults (the steps to apply and to undo, handed to the
//! journal): [`network`] (firewall blocks, api delay), [`netem`] (delay,
//! loss, reorder bands), [`stress`] (CPU, memory, fill files and their
//! helpers); [`remote`] finds other nodes and reaches them over ssh;
//! [`component`] (daemons found by main class or command name); [`ctx`]
//! (one invocation: the journaled inject and undo, list, crash, hang,
//! resume, network blocks, status and recover); [`daemon_tool`] (the
//! skeleton every daemon injector implements: its command line and the
//! help text the journal gives every injector). This file re-exports what
//! the tools use under its old name (`kvmfi::injector::Ctx`, ...).

pub mod component;
pub mod ctx;
pub mod daemon_tool;
pub mod netem;
pub mod network;
pub mod remote;
pub mod stress;

pub use component::{override_classes, Component};
pub use ctx::{Common, Ctx, RecoverArgs, StatusArgs};
pub use daemon_tool::{DaemonCmd, DaemonOpts, JournalCmd};

use crate::error::Error;

/// Where the helper-process steps used to live; kfail-fi names `tag_arg` here.
pub mod steps {
    pub use crate::undo::processes::{kill_tagged, spawn_ready, tag_arg, tagged};
}

/// A numeric or word argument checked by hand: a usage error (exit 2).
pub fn bad(msg: impl std::fmt::Display) -> Error {
    Error::usage(msg)
}
