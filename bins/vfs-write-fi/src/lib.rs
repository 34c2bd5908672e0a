//! vfs-write-fi: make vfs_write fail for a scoped target (see `man vfs-write-fi`).

use kvmfi::filefault::VfsWrite;

/// The clap definition, for the man page and completion generators.
pub fn command() -> clap::Command {
    kvmfi::kernel_tool::command::<VfsWrite>()
}

/// Runs the tool with the given arguments.
pub fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> kvmfi::Result<()> {
    kvmfi::kernel_tool::run::<VfsWrite>(args)
}
