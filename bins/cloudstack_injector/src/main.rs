fn main() -> std::process::ExitCode { kvmfi::run::main("cloudstack_injector", || cloudstack_injector::run(std::env::args_os())) }
