fn main() -> std::process::ExitCode { kvmfi::run::main("vfs-write-fi", || vfs_write_fi::run(std::env::args_os())) }
