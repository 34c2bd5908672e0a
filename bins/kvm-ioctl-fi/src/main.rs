fn main() -> std::process::ExitCode { kvmfi::run::main("kvm-ioctl-fi", || kvm_ioctl_fi::run(std::env::args_os())) }
