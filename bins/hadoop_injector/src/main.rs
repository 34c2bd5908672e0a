fn main() -> std::process::ExitCode { kvmfi::run::main("hadoop_injector", || hadoop_injector::run(std::env::args_os())) }
