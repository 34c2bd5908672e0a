//! What a user sees of a journal written before the undo steps moved out of
//! the journal (the fixtures of shared/tests/fixtures/journals-v1, written
//! by the old injectors): `recover --all --dry-run` and `status --all
//! --json` print exactly what the old hadoop_injector printed for them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hadoop_injector");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tests/fixtures/journals-v1")
}

fn run(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).env("KVMFI_STATE_DIR", dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn old_journals_show_as_before() {
    for name in ["hadoop_injector", "cloudstack_injector", "iptables"] {
        let d = std::env::temp_dir().join(format!("kvmfi-hi-old-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let journal = fs::read(fixtures().join(format!("{name}.jsonl"))).unwrap();
        fs::write(d.join("journal.jsonl"), &journal).unwrap();
        let want = |ext: &str| fs::read_to_string(fixtures().join(format!("{name}.{ext}"))).unwrap();
        assert_eq!(run(&d, &["recover", "--all", "--dry-run"]), want("recover-dry-run.txt"), "{name}");
        assert_eq!(run(&d, &["status", "--all", "--json"]), want("status.jsonl"), "{name}");
        // Reading changed nothing.
        assert_eq!(fs::read(d.join("journal.jsonl")).unwrap(), journal, "{name}");
        let _ = fs::remove_dir_all(&d);
    }
}
