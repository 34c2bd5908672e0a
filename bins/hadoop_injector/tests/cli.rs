//! Command-line contract of hadoop_injector that needs no root and no
//! daemons: bad input exits 2 with one line, changes nothing; help works.

use std::process::Command;

fn run(args: &[&str], state: &std::path::Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hadoop_injector"))
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
        assert!(stderr.starts_with("hadoop_injector: "), "{stderr}");
    }
    assert!(!state.exists(), "bad input created the journal");
}

#[test]
fn help_and_command() {
    let state = state_dir("help");
    let (code, stdout, _) = run(&["--help"], &state);
    assert_eq!(code, 0);
    assert!(stdout.contains("EXIT STATUS") && stdout.contains("FILES"));
    hadoop_injector::command().debug_assert();
}

const BAD: &[&str] = &[
    "",
    "crash xx",
    "hang",
    "resume nn dn",
    "network 10.0.0.300",
    "network 0.0.0.0",
    "network host",
    "hdfs-safe sideways",
    "yarn-health maybe",
    "recover -1",
    "recover 0",
    "recover 99999999999999999999999",
    "--timeout -5s list",
    "--timeout 0 list",
    "--main-class nn list",
    "--main-class zz=a.B list",
    "frobnicate",
    // the original's later commands
    "delay",
    "delay 10.0.0.1",
    "delay 10.0.0.1 0",
    "delay 10.0.0.1 60001",
    "delay 10.0.0.1 10 -1",
    "delay 10.0.0.1 10 --dev bad/dev",
    "loss 10.0.0.1 0",
    "loss 10.0.0.1 101",
    "reorder 10.0.0.1 50 101",
    "isolate 10.0.0.1 0",
    "isolate bad/name",
    "heartbeat 10.0.0.1 0",
    "cpu-stress 127.0.0.1 0",
    "cpu-stress 127.0.0.1 86401",
    "mem-stress 127.0.0.1 0",
    "disk-fill 127.0.0.1 0",
    "io-slow 127.0.0.1 maybe",
    "yarn-unhealthy 127.0.0.1 sideways",
    "crash-map",
    "crash mapper",
    "cpu-stress-local 0",
];
