//! Command-line contract: usage errors exit 2; `support` answers per arch.

use assert_cmd::Command;
use predicates::str::contains;

fn tool() -> Command {
    Command::cargo_bin("tlb-flush-fi").unwrap()
}

#[test]
fn support_answers_for_this_arch() {
    if cfg!(target_arch = "x86_64") {
        tool().arg("support").assert().success().stdout(contains("supported"));
    } else {
        tool().arg("support").assert().code(4).stderr(contains("unsupported"));
    }
}

#[cfg(target_arch = "x86_64")]
#[test]
fn arm_without_scope_is_refused() {
    tool().arg("arm").assert().code(2).stderr(contains("--yes"));
}

#[test]
fn kvm_arm_without_scope_is_refused() {
    tool().args(["kvm", "arm"]).assert().code(2).stderr(contains("no scope given"));
}

#[test]
fn kvm_arm_refuses_an_unknown_option() {
    tool().args(["kvm", "arm", "--tgid", "1", "--cmd", "x"]).assert().code(2);
}
