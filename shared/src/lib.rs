//! kvmfi: the one library crate shared by every tool of the toolbox.
//!
//! Each binary is a thin `main.rs` over its own crate; everything two tools
//! need lives here so that behaviour (exit codes, option spelling, the
//! kernel ABI) cannot drift between tools.

pub mod error;
pub mod run;
pub mod units;

pub use error::{Error, Result};
