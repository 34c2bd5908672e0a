fn main() -> std::process::ExitCode { kvmfi::run::main("kswapd-fi", || kswapd_fi::run(std::env::args_os())) }
