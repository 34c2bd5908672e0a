fn main() -> std::process::ExitCode { kvmfi::run::main("memslot-fi", || memslot_fi::run(std::env::args_os())) }
