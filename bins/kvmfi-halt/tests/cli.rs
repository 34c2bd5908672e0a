//! kvmfi-halt's flag as users see it through --status (no root needed);
//! the full halt (modules, journal, refused arms) is proven by the
//! user-space experiment suite and the bench's 70-experiment.sh.

use assert_cmd::Command;

fn halt(flag: &std::path::Path) -> Command {
    let mut c = Command::cargo_bin("kvmfi-halt").unwrap();
    c.env("KVMFI_HALT_FILE", flag).env("KVMFI_STATE_DIR", flag.with_extension("journal"));
    c
}

#[test]
fn status_reads_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("halt");
    let out = halt(&flag).arg("--status").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("not halted"));
    std::fs::write(&flag, r#"{"since":1700000000,"by":"ops@host","reason":"alarm 42"}"#).unwrap();
    let out = halt(&flag).args(["--status", "--json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["halted"].as_bool(), v["by"].as_str(), v["reason"].as_str()), (Some(true), Some("ops@host"), Some("alarm 42")));
    // A damaged flag still halts: better refuse than inject.
    std::fs::write(&flag, "garbage").unwrap();
    let out = halt(&flag).arg("--status").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("halted since"), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn conflicting_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("halt");
    for args in [&["--release", "--reason", "x"][..], &["--json"], &["--status", "--reason", "x"]] {
        let out = halt(&flag).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    }
    assert!(!flag.exists());
}
