//! The host layer: what the user-space injectors change on this machine and
//! how they look at it, one file per kind of thing (processes, mounts,
//! firewall rules and qdiscs, block devices, SQL databases, commands). Nothing
//! here knows about the journal: these are the primitives that undo steps
//! and fault plans are made of.

pub mod block;
pub mod exec;
pub mod firewall;
pub mod mounts;
pub mod procs;
pub mod sql;
