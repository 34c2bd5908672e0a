fn main() -> std::process::ExitCode { kvmfi::run::main("kvm-version-fi", || kvm_version_fi::run(std::env::args_os())) }
