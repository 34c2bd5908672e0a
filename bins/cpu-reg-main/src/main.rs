fn main() -> std::process::ExitCode { kvmfi::run::main("cpu-reg-main", || cpu_reg_main::run(std::env::args_os())) }
