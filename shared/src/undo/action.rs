//! What the journal needs of a step: how it is shown and how it is carried
//! out, to make a change or to undo one. The journal's store is generic over
//! it; [`super::Step`] is the host's implementation.

use crate::error::Result;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::path::Path;

/// Whether a step runs to make a change or to undo one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Apply,
    Undo,
}

/// A step the journal records (as JSON) and runs. Each must be idempotent
/// when run as an undo: `recover` may run it for a change that never
/// happened, or a second time.
pub trait Action: Serialize + DeserializeOwned + Clone + Debug {
    /// The exact command or change, as `--dry-run` and `status` print it.
    fn describe(&self) -> String;
    /// Carries the step out; `state_dir` is the journal's directory (logs,
    /// helper state).
    fn execute(&self, phase: Phase, state_dir: &Path) -> Result<()>;
}
