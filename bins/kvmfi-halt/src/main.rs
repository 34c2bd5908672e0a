fn main() -> std::process::ExitCode { kvmfi::run::main("kvmfi-halt", || kvmfi_halt::run(std::env::args_os())) }
