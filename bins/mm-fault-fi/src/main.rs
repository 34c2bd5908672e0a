fn main() -> std::process::ExitCode { kvmfi::run::main("mm-fault-fi", || mm_fault_fi::run(std::env::args_os())) }
