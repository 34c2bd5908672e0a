fn main() -> std::process::ExitCode {
    kvmfi::run::main("kvmfi-check", || kvmfi_check::run(std::env::args_os()))
}
