fn main() -> std::process::ExitCode { kvmfi::run::main("disk-fi", || disk_fi::run(std::env::args_os())) }
