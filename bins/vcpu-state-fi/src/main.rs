fn main() -> std::process::ExitCode { kvmfi::run::main("vcpu-state-fi", || vcpu_state_fi::run(std::env::args_os())) }
