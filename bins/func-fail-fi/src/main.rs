fn main() -> std::process::ExitCode { kvmfi::run::main("func-fail-fi", || func_fail_fi::run(std::env::args_os())) }
