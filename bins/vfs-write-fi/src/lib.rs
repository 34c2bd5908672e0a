//! vfs-write-fi: make vfs_write fail for a scoped target (see `man vfs-write-fi`).

use kvmfi::filefault::VfsWrite;

kvmfi::kernel_tool_entry_points!(VfsWrite);
