//! Command-line contract of cloudstack_injector that needs no root and no
//! daemons: bad input exits 2 with one line, changes nothing; help works.

use std::process::Command;

fn run(args: &[&str], state: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cloudstack_injector"))
        .args(args)
        .env("KVMFI_STATE_DIR", state)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kvmfi-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn bad_input_is_usage_error_and_changes_nothing() {
    let state = state_dir("bad");
    for args in BAD {
        let argv: Vec<&str> = args.split_whitespace().collect();
        let (code, stdout, stderr) = run(&argv, &state);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} printed {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("cloudstack_injector: "), "{stderr}");
    }
    assert!(!state.exists(), "bad input created the journal");
}

#[test]
fn help_and_command() {
    let state = state_dir("help");
    let (code, stdout, _) = run(&["--help"], &state);
    assert_eq!(code, 0);
    assert!(stdout.contains("EXIT STATUS") && stdout.contains("FILES"));
    cloudstack_injector::command().debug_assert();
}

const BAD: &[&str] = &[
    "",
    "crash vx",
    "hang",
    "api-delay",
    "api-delay -5",
    "api-delay 0",
    "api-delay 60001",
    "api-delay 99999999999999999999",
    "api-delay 100 --dev bad/dev",
    "api-delay 100 --port 0",
    "db-limit --user-connections 0",
    "db-limit --max-connections -1",
    "db-limit --db-user x'y",
    "db-limit --db-port 70000",
    "storage-ro",
    "storage-ro /nonexistent/x",
    "agent-disconnect --port 65536",
    "recover abc",
    "list extra",
    // the original's later commands
    "sysvm-crash xyz",
    "sysvm-hang",
    "network 127.0.0.1 0",
    "network 300.1.1.1",
    "db-lock --table x'y",
    "storage-fill /nonexistent/x",
    "storage-fill /tmp --size 0",
    "storage-umount /nonexistent/x",
    "cpu-stress 0",
    "cpu-stress 86401",
    "mem-stress 0",
    "vm-migrate-fail --ports 5-1",
    "agent-disconnect 300.1.1.1",
];
