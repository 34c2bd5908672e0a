//! vfs-read-fi: make vfs_read fail for a scoped target (see `man vfs-read-fi`).

use kvmfi::filefault::VfsRead;

/// The clap definition, for the man page and completion generators.
pub fn command() -> clap::Command {
    kvmfi::kernel_tool::command::<VfsRead>()
}

/// Runs the tool with the given arguments.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> kvmfi::Result<()> {
    kvmfi::kernel_tool::run::<VfsRead>(args)
}
