//! Command-line contract: usage errors exit 2 and change nothing (they are
//! detected before the module is looked for, so these run anywhere).

use assert_cmd::Command;
use predicates::str::contains;

fn tool() -> Command {
    Command::cargo_bin("cpu-reg-main").unwrap()
}

#[test]
fn pid_without_type_is_a_usage_error() {
    tool().arg("1234").assert().code(2).stderr(contains("<TYPE>"));
}

#[test]
fn unknown_type_is_a_usage_error() {
    tool().args(["1234", "10"]).assert().code(2);
}

#[test]
fn arm_without_scope_is_refused() {
    tool().args(["arm", "--reg", "pc"]).assert().code(2).stderr(contains("--yes"));
}

#[test]
fn bad_register_is_a_usage_error() {
    tool().args(["arm", "--tgid", "1", "--reg", "nosuch"]).assert().code(2).stderr(contains("not a register"));
}

#[test]
fn flip_and_set_conflict() {
    tool().args(["arm", "--tgid", "1", "--reg", "pc", "--flip-bit", "3", "--set", "0"]).assert().code(2);
}

#[test]
fn help_lists_every_type() {
    let out = tool().arg("--help").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for t in 1..=9 {
        assert!(text.contains(&format!("\n  {t}  ")), "type {t} missing from --help");
    }
}
