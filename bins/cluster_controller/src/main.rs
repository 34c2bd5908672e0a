fn main() -> std::process::ExitCode { kvmfi::run::main("cluster_controller", || cluster_controller::run(std::env::args_os())) }
