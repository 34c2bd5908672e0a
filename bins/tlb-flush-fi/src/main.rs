fn main() -> std::process::ExitCode { kvmfi::run::main("tlb-flush-fi", || tlb_flush_fi::run(std::env::args_os())) }
