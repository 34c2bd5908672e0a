//! Traffic control: kvmfi's root qdisc set up and removed, and one fault's
//! band of it removed.

use crate::error::Result;
use crate::host::tc::{self, filter_prio, QDISC_HANDLE};

pub fn describe_delete_root(tc: &str, dev: &str, handle: &str) -> String {
    format!("{tc} qdisc del dev {dev} root  # only if the root qdisc is still {handle}")
}

/// Deletes the root qdisc of `dev` if its handle is still `handle`.
pub fn delete_root(tc: &str, dev: &str, handle: &str) -> Result<()> {
    tc::tc_delete_root(tc, dev, handle)
}

pub fn describe_ensure_root(tc: &str, dev: &str) -> String {
    format!(
        "{tc} qdisc add dev {dev} root handle {QDISC_HANDLE} prio bands 16 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1  # unless it is there; refused over a foreign root qdisc"
    )
}

/// Gives `dev` kvmfi's root qdisc unless it has it.
pub fn ensure_root(tc: &str, dev: &str) -> Result<()> {
    tc::ensure_root(tc, dev)
}

pub fn describe_delete_band(tc: &str, dev: &str, band: u32) -> String {
    format!(
        "{tc} filter del dev {dev} parent {h} prio {}; {tc} filter del dev {dev} parent {h} prio {}; {tc} qdisc del dev {dev} parent {h}{band}  # then the root qdisc if no band is left",
        filter_prio(band, "ip"),
        filter_prio(band, "ipv6"),
        h = QDISC_HANDLE
    )
}

/// Removes band `band` of kvmfi's root on `dev` (and the root with the last).
pub fn delete_band(tc: &str, dev: &str, band: u32) -> Result<()> {
    tc::delete_band(tc, dev, band)
}
