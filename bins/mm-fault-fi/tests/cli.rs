//! Command-line contract: usage errors exit 2 before anything is loaded.

use assert_cmd::Command;
use predicates::str::contains;

fn tool() -> Command {
    Command::cargo_bin("mm-fault-fi").unwrap()
}

#[test]
fn arm_without_scope_is_refused() {
    tool().args(["arm", "--result", "sigbus"]).assert().code(2).stderr(contains("--yes"));
}

#[test]
fn bad_range_is_a_usage_error() {
    tool().args(["arm", "--tgid", "1", "--addr-range", "0x2000-0x1000"]).assert().code(2).stderr(contains("empty"));
}

#[test]
fn bad_result_is_a_usage_error() {
    tool().args(["arm", "--tgid", "1", "--result", "panic"]).assert().code(2);
}
