fn main() -> std::process::ExitCode { kvmfi::run::main("vfs-read-fi", || vfs_read_fi::run(std::env::args_os())) }
