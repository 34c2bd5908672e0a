//! Journals written before the undo steps moved out of the journal (commit
//! 17b0baa) still read, show and recover with this code. The fixtures in
//! tests/fixtures/journals-v1 (see its README.md) are real: the old
//! hadoop_injector and cloudstack_injector applied faults in a private
//! namespace, the last one killed with SIGKILL after applying; and
//! every-step.jsonl holds one record per step variant as the old crate
//! serialized it, with the old `describe` of each.

use kvmfi::journal::{self, Journal, Step};
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journals-v1")
}

fn journals() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl") && !p.to_string_lossy().ends_with(".status.jsonl"))
        .collect();
    v.sort();
    assert_eq!(v.len(), 4, "fixtures: {v:?}");
    v
}

/// A copy of fixture `name` as the journal of a fresh directory.
fn copy_of(name: &str, test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kvmfi-old-journal-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    fs::copy(fixtures().join(name), d.join("journal.jsonl")).unwrap();
    d
}

/// Every undo step of every record parses as a [`Step`] and serializes
/// back to the very same JSON: the on-disk format did not change.
#[test]
fn every_step_of_the_old_journals_round_trips() {
    let mut steps = 0;
    for j in journals() {
        for (n, line) in fs::read_to_string(&j).unwrap().lines().enumerate() {
            let rec: Value = serde_json::from_str(line).unwrap();
            let Some(undo) = rec.get("undo") else { continue };
            let parsed: Vec<Step> = serde_json::from_value(undo.clone())
                .unwrap_or_else(|e| panic!("{}:{}: {e}", j.display(), n + 1));
            assert_eq!(&serde_json::to_value(&parsed).unwrap(), undo, "{}:{}", j.display(), n + 1);
            steps += parsed.len();
        }
    }
    assert_eq!(steps, 53, "steps in the fixtures");
}

/// One record per variant, as the old code wrote it: every variant the
/// journal knows is there, and each is shown exactly as before.
#[test]
fn every_variant_reads_and_describes_as_before() {
    let entries = journal::read_entries(&copy_of("every-step.jsonl", "variants")).unwrap();
    let mut kinds: Vec<String> = Vec::new();
    fn walk(s: &Step, kinds: &mut Vec<String>) {
        let v = serde_json::to_value(s).unwrap();
        kinds.push(v["step"].as_str().unwrap().to_string());
        if let Step::InNetns { steps, .. } | Step::InMountNs { steps, .. } = s {
            steps.iter().for_each(|s| walk(s, kinds));
        }
    }
    let mut shown = String::new();
    for e in &entries {
        assert_eq!(e.state, "pending");
        for s in &e.undo {
            walk(s, &mut kinds);
            shown.push_str(&s.describe());
            shown.push('\n');
        }
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds.len(), 23, "variants in every-step.jsonl: {kinds:?}");
    assert_eq!(shown, fs::read_to_string(fixtures().join("every-step.describe.txt")).unwrap());
}

/// The real journals: the faults in force, their states and steps are
/// what the old `status --all --json` printed for them.
#[test]
fn status_of_the_old_journals_is_unchanged() {
    for name in ["hadoop_injector", "cloudstack_injector", "iptables"] {
        let d = copy_of(&format!("{name}.jsonl"), &format!("status-{name}"));
        let got: Vec<Value> =
            journal::read_entries(&d).unwrap().iter().map(|e| serde_json::to_value(e).unwrap()).collect();
        let want: Vec<Value> = fs::read_to_string(fixtures().join(format!("{name}.status.jsonl")))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(got, want, "{name}");
        // The fault killed after applying is pending, the others applied.
        assert_eq!(got.last().unwrap()["state"], "pending", "{name}");
        assert!(got[..got.len() - 1].iter().all(|e| e["state"] == "applied"), "{name}");
        let _ = fs::remove_dir_all(&d);
    }
}

/// `recover` of an old journal: the faults whose undo is safe on any host
/// (a marker file removed, stress helpers killed by tag, a SIGCONT to a
/// process that must still have its start time) are undone and recorded
/// so; the rest stays in force; a second recover of them does nothing.
/// (The namespace steps are left out: a namespace inode of the machine
/// that wrote the journal may name another namespace here.)
#[test]
fn recover_of_an_old_journal() {
    let d = copy_of("hadoop_injector.jsonl", "recover");
    let safe = |e: &journal::Entry| ["yarn-health", "cpu-stress", "mem-stress", "hang"].contains(&e.kind.as_str());
    let mut j = Journal::open_in(&d, "hadoop_injector").unwrap();
    let before = j.entries().unwrap();
    let want: Vec<u64> = before.iter().filter(|e| safe(e)).map(|e| e.id).rev().collect();
    assert_eq!(want.len(), 4, "{before:?}");
    let undone: Vec<u64> = j.undo_where(safe).unwrap().iter().map(|e| e.id).collect();
    assert_eq!(undone, want);
    let left: Vec<u64> = j.entries().unwrap().iter().map(|e| e.id).collect();
    assert_eq!(left, before.iter().filter(|e| !safe(e)).map(|e| e.id).collect::<Vec<_>>());
    let text = fs::read_to_string(d.join("journal.jsonl")).unwrap();
    for id in &want {
        assert!(text.contains(&format!("{{\"op\":\"undone\",\"id\":{id}}}")), "no undone record for {id}");
    }
    assert!(j.undo_where(safe).unwrap().is_empty());
    drop(j);
    let _ = fs::remove_dir_all(&d);
}
