//! The host layer: what the user-space injectors change on this machine and
//! how they look at it, one file per kind of thing (processes, mounts,
//! firewall rules, qdiscs, namespaces, block devices, SQL databases,
//! commands). Nothing
//! here knows about the journal: these are the primitives that undo steps
//! and fault plans are made of.

pub mod block;
pub mod exec;
pub mod files;
pub mod firewall;
pub mod mounts;
pub mod ns;
pub mod procs;
pub mod sql;
pub mod tc;
