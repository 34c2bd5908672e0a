//! Block devices: a device-mapper device (on a loop device of an image
//! file, or on a block device) created and removed, and the loop device
//! detached. A device still in use is never removed, only disarmed.

use crate::error::Result;
use crate::host::block;
use crate::host::exec::shell_quote;

/// `/dev/loopN` for loop device `nr`; `u32::MAX` stands for the one a dry
/// run has not picked yet.
fn loop_name(nr: u32) -> String {
    if nr == u32::MAX { "/dev/loopN".to_string() } else { block::loop_path(nr).display().to_string() }
}

pub fn describe_dm_create(name: &str, table: &[String], loop_file: Option<&str>, loop_nr: Option<u32>, messages: &[String]) -> String {
    let mut s = String::new();
    if let (Some(f), Some(n)) = (loop_file, loop_nr) {
        s.push_str(&format!("losetup {} {}  # LOOP_CONFIGURE, autoclear; ", loop_name(n), shell_quote(f)));
    }
    s.push_str(&format!("dmsetup create {name} --table {}", shell_quote(&table.join("\n"))));
    for m in messages {
        s.push_str(&format!("; dmsetup message {name} 0 {}", shell_quote(m)));
    }
    s
}

/// Creates device `name` with `table` (after binding the loop device).
pub fn dm_create(name: &str, table: &[String], loop_file: Option<&str>, loop_nr: Option<u32>, messages: &[String]) -> Result<()> {
    block::create_device(name, table, loop_file, loop_nr, messages)
}

pub fn describe_dm_remove(name: &str, linear: &str, deadline: u64) -> String {
    format!(
        "dmsetup remove {name}  # if it exists; if it is open: dmsetup load {name} --table {} && dmsetup resume {name}, and it stays{}",
        shell_quote(linear),
        if deadline > 0 { format!("; lease ends at unix time {deadline}") } else { String::new() }
    )
}

/// Removes device `name`; one in use gets the plain `linear` table instead.
pub fn dm_remove(name: &str, linear: &str) -> Result<()> {
    block::remove_device(name, linear)
}

pub fn describe_loop_detach(loop_nr: u32, file: &str, dev: u64, ino: u64) -> String {
    format!("losetup -d {}  # only if still bound to {} (dev {dev}, inode {ino})", loop_name(loop_nr), shell_quote(file))
}

/// Detaches loop device `loop_nr` if it is still bound to file (dev, ino).
pub fn loop_detach(loop_nr: u32, dev: u64, ino: u64) -> Result<()> {
    block::loop_detach_if(loop_nr, dev, ino)
}
