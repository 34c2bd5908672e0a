fn main() -> std::process::ExitCode { kvmfi::run::main("kfail-fi", || kfail_fi::run(std::env::args_os())) }
