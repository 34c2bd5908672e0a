//! vfs-read-fi: make vfs_read fail for a scoped target (see `man vfs-read-fi`).

use kvmfi::filefault::VfsRead;

kvmfi::kernel_tool_entry_points!(VfsRead);
