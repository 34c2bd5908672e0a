//! arm, off, kill -9 and recover against a stand-in debugfs tree of plain
//! files (KVMFI_TEST_DEBUGFS): the knobs come back exactly as they were.
//! The tool needs root; as another user the test is skipped.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const KNOBS: &[(&str, &str)] = &[
    ("probability", "7"),
    ("interval", "3"),
    ("times", "42"),
    ("space", "0"),
    ("verbose", "0"),
    ("task-filter", "Y"),
    ("ignore-gfp-wait", "Y"),
    ("cache-filter", "N"),
];

fn kfail(root: &Path, args: &[&str], die: bool) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kfail-fi"));
    c.args(args).env("KVMFI_TEST_DEBUGFS", root.join("debugfs")).env("KVMFI_STATE_DIR", root.join("journal"));
    if die {
        c.env("KVMFI_TEST_DIE_AFTER_APPLY", "1");
    }
    c.output().expect("run kfail-fi")
}

fn knobs(root: &Path) -> Vec<(String, String)> {
    KNOBS
        .iter()
        .map(|(k, _)| {
            let v = fs::read_to_string(root.join("debugfs/failslab").join(k)).unwrap();
            (k.to_string(), v.trim_end().to_string())
        })
        .collect()
}

/// A scratch directory, or None (the test is skipped) when not root.
fn root_tmpdir() -> Option<tempfile::TempDir> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: kfail-fi needs root");
        return None;
    }
    Some(tempfile::tempdir().unwrap())
}

#[test]
fn knobs_come_back() {
    let Some(tmp) = root_tmpdir() else { return };
    let root = tmp.path();
    let dir = root.join("debugfs/failslab");
    fs::create_dir_all(&dir).unwrap();
    for (k, v) in KNOBS {
        fs::write(dir.join(k), format!("{v}\n")).unwrap();
    }
    let before = knobs(root);

    // No scope: refused, nothing changed.
    let out = kfail(root, &["arm", "failslab"], false);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(knobs(root), before);

    // A facility the stand-in kernel lacks: exit 4.
    let out = kfail(root, &["arm", "fail_page_alloc", "--yes"], false);
    assert_eq!(out.status.code(), Some(4), "{out:?}");

    let out = kfail(root, &["arm", "failslab", "--yes", "--times", "5", "--duration", "0"], false);
    assert!(out.status.success(), "{out:?}");
    let armed = knobs(root);
    assert!(armed.contains(&("probability".into(), "100".into())), "{armed:?}");
    assert!(armed.contains(&("times".into(), "5".into())), "{armed:?}");
    assert!(armed.contains(&("task-filter".into(), "N".into())), "{armed:?}");
    assert!(armed.contains(&("ignore-gfp-wait".into(), "N".into())), "{armed:?}");

    // Armed already: refused without --replace.
    let out = kfail(root, &["arm", "failslab", "--yes", "--duration", "0"], false);
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    let out = kfail(root, &["off"], false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(knobs(root), before);

    // Killed right after applying: recover puts the knobs back.
    let out = kfail(root, &["arm", "failslab", "--yes", "--probability", "50", "--duration", "0"], true);
    assert_eq!(out.status.code(), None, "killed by SIGKILL: {out:?}");
    assert!(knobs(root).contains(&("probability".into(), "50".into())));
    let out = kfail(root, &["recover"], false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(knobs(root), before);
    let out = kfail(root, &["recover"], false);
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "nothing in force");
}

#[test]
fn page_alloc_highmem_and_order_come_back() {
    let Some(tmp) = root_tmpdir() else { return };
    let root = tmp.path();
    let read = |f: &str, k: &str| fs::read_to_string(root.join("debugfs").join(f).join(k)).unwrap().trim_end().to_string();
    for f in ["fail_page_alloc", "failslab"] {
        let dir = root.join("debugfs").join(f);
        fs::create_dir_all(&dir).unwrap();
        for (k, v) in KNOBS {
            fs::write(dir.join(k), format!("{v}\n")).unwrap();
        }
    }
    let dir = root.join("debugfs/fail_page_alloc");
    fs::write(dir.join("ignore-gfp-highmem"), "Y\n").unwrap();
    fs::write(dir.join("min-order"), "1\n").unwrap();

    // --ignore-gfp-highmem belongs to fail_page_alloc only.
    let out = kfail(root, &["arm", "failslab", "--yes", "--ignore-gfp-highmem"], false);
    assert_eq!(out.status.code(), Some(2), "{out:?}");

    // User pages carry __GFP_HIGHMEM: kfail-fi fails them unless told not to.
    let out = kfail(root, &["arm", "fail_page_alloc", "--yes", "--duration", "0", "--dry-run"], false);
    assert!(out.status.success(), "{out:?}");
    let dry = String::from_utf8_lossy(&out.stdout);
    assert!(dry.contains("ignore-gfp-highmem"), "{dry}");
    let out = kfail(root, &["arm", "fail_page_alloc", "--yes", "--duration", "0"], false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!((read("fail_page_alloc", "ignore-gfp-highmem"), read("fail_page_alloc", "min-order")), ("N".into(), "0".into()));
    let out = kfail(root, &["off"], false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!((read("fail_page_alloc", "ignore-gfp-highmem"), read("fail_page_alloc", "min-order")), ("Y".into(), "1".into()));
    let out = kfail(root, &["arm", "fail_page_alloc", "--yes", "--ignore-gfp-highmem", "--min-order", "2", "--duration", "0"], false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!((read("fail_page_alloc", "ignore-gfp-highmem"), read("fail_page_alloc", "min-order")), ("Y".into(), "2".into()));
    let out = kfail(root, &["off"], false);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(read("fail_page_alloc", "min-order"), "1");
}
