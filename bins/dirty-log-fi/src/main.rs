fn main() -> std::process::ExitCode { kvmfi::run::main("dirty-log-fi", || dirty_log_fi::run(std::env::args_os())) }
