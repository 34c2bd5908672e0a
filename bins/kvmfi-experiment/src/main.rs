fn main() -> std::process::ExitCode { kvmfi::run::main("kvmfi-experiment", || kvmfi_experiment::run(std::env::args_os())) }
