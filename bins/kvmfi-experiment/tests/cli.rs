//! The command line as a user meets it, no root needed: every example
//! validates, `plan` prints the exact commands in order, and a bad file is
//! refused with its line and field (exit 2).

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn examples() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/experiments");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "toml")).collect();
    v.sort();
    v
}

fn exp() -> Command {
    Command::cargo_bin("kvmfi-experiment").unwrap()
}

#[test]
fn every_example_validates() {
    let ex = examples();
    assert!(ex.len() >= 4, "examples: {ex:?}");
    for f in ex {
        let out = exp().arg("validate").arg(&f).output().unwrap();
        assert!(out.status.success(), "{}: {}", f.display(), String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains(": valid: "));
    }
}

#[test]
fn plan_lists_commands_and_rollback_in_order() {
    let f = examples().into_iter().find(|p| p.ends_with("vm-vcpu-ioctl-deny.toml")).unwrap();
    let out = exp().arg("plan").arg(&f).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let arm = text.find("kvm-ioctl-fi arm --comm victim-vmm --cmd KVM_RUN --duration 16000ms").expect(&text);
    let off = text.find("s1: kvm-ioctl-fi off (lease 16000ms as backstop)").expect(&text);
    let before = text.find("1. steady state before").unwrap();
    let after = text.find("4. steady state after").unwrap();
    assert!(before < arm && arm < off && off < after, "{text}");
}

#[test]
fn bad_file_names_line_and_field_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(
        &f,
        "title = \"t\"\n[steady_state]\nprobes = [\"p\"]\n[[probe]]\nname = \"p\"\ntype = \"tcp\"\naddress = \"127.0.0.1:1\"\n[[method]]\nfault = \"vfs-read-fi\"\nduration = \"1s\"\n",
    )
    .unwrap();
    for sub in ["validate", "run", "plan"] {
        let out = exp().arg(sub).arg(&f).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{sub}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("bad.toml:9: method.scope: a vfs-read-fi fault needs a scope"), "{sub}: {err}");
    }
}
