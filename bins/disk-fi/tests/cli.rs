//! disk-fi's command line: bad input is one line on stderr, exit status 2,
//! and nothing is changed (checked with --dry-run, which needs no root and
//! no device-mapper, and with a journal directory of the test's own).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn disk_fi(state: &Path) -> Command {
    let mut c = Command::cargo_bin("disk-fi").unwrap();
    c.env("KVMFI_STATE_DIR", state);
    c
}

/// A 1 MiB image: 2048 sectors, 0 to 2047.
fn image(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("disk.img");
    std::fs::write(&p, vec![0u8; 1 << 20]).unwrap();
    p
}

fn one_line_usage(out: assert_cmd::assert::Assert, needle: &str) {
    let out = out.code(2).stdout("");
    let err = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("disk-fi: "), "{err:?}");
    assert!(err.contains(needle), "{err:?} lacks {needle:?}");
}

#[test]
fn bad_input_is_exit_2_and_one_line() {
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    let img = img.to_str().unwrap();
    let st = t.path().join("journal");
    one_line_usage(disk_fi(&st).args(["badblocks", img, "--sectors", "2048"]).assert(), "beyond the end of the disk");
    one_line_usage(disk_fi(&st).args(["badblocks", img, "--sectors", "2040+9"]).assert(), "beyond the end");
    one_line_usage(disk_fi(&st).args(["badblocks", img, "--sectors", "9-3"]).assert(), "before the first");
    one_line_usage(disk_fi(&st).args(["badblocks", img, "--sectors", "abc"]).assert(), "FIRST-LAST");
    one_line_usage(disk_fi(&st).args(["badblocks", img]).assert(), "--sectors");
    one_line_usage(disk_fi(&st).args(["badblocks", "/nonexistent/disk.img", "--sectors", "1"]).assert(), "No such file");
    one_line_usage(disk_fi(&st).args(["badblocks", "/dev/null", "--sectors", "1"]).assert(), "not an image file or a block device");
    one_line_usage(disk_fi(&st).args(["flaky", img, "--up", "1", "--down", "0"]).assert(), "--down");
    one_line_usage(disk_fi(&st).args(["flaky", img, "--up", "1", "--down", "1", "--mode", "sometimes"]).assert(), "--mode");
    one_line_usage(disk_fi(&st).args(["delay", img]).assert(), "--read-ms and/or --write-ms");
    one_line_usage(disk_fi(&st).args(["delay", img, "--read-ms", "60001"]).assert(), "--read-ms");
    one_line_usage(disk_fi(&st).args(["delay", img, "--read-ms", "5", "--duration", "0", "--wait"]).assert(), "--wait needs a lease");
    one_line_usage(disk_fi(&st).args(["delay", img, "--read-ms", "5", "--duration", "soon"]).assert(), "duration");
    let small = t.path().join("small.img");
    std::fs::write(&small, b"x").unwrap();
    one_line_usage(disk_fi(&st).args(["badblocks", small.to_str().unwrap(), "--sectors", "0"]).assert(), "at least one 512-byte sector");
    // Nothing was changed: no journal was even created.
    assert!(!st.join("journal.jsonl").exists());
}

#[test]
fn dry_run_prints_the_table_and_the_undo() {
    let t = tempfile::tempdir().unwrap();
    let img = image(t.path());
    let st = t.path().join("journal");
    disk_fi(&st)
        .args(["--dry-run", "badblocks", img.to_str().unwrap(), "--sectors", "100-103,2047"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 100 linear /dev/loopN 0\n100 4 error\n104 1943 linear /dev/loopN 104\n2047 1 error"))
        .stdout(predicate::str::contains("# undo: dmsetup remove kvmfi-ID"))
        .stdout(predicate::str::contains("# undo: losetup -d /dev/loopN"));
    disk_fi(&st)
        .args(["--dry-run", "flaky", img.to_str().unwrap(), "--up", "5", "--down", "2", "--mode", "drop-writes", "--duration", "0"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 2048 flakey /dev/loopN 0 5 2 1 drop_writes"))
        .stdout(predicate::str::contains("kvmfi-tag").not());
    disk_fi(&st)
        .args(["--dry-run", "badblocks", img.to_str().unwrap(), "--sectors", "7", "--io", "write"])
        .assert()
        .success()
        .stdout(predicate::str::contains("7 1 flakey /dev/loopN 7 0 1 1 error_writes"));
    assert!(!st.join("journal.jsonl").exists());
}

#[test]
fn off_of_an_unknown_fault_is_not_found() {
    let t = tempfile::tempdir().unwrap();
    disk_fi(&t.path().join("j")).args(["--dry-run", "off", "42"]).assert().code(5).stderr(predicate::str::contains("no fault of disk-fi made kvmfi-42"));
}
