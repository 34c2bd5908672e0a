fn main() -> std::process::ExitCode { kvmfi::run::main("vfs-read-fi", || Ok(())) }
