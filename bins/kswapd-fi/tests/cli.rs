//! Command-line contract: usage errors exit 2 before anything is loaded.

use assert_cmd::Command;

fn tool() -> Command {
    Command::cargo_bin("kswapd-fi").unwrap()
}

#[test]
fn delay_is_bounded() {
    tool().args(["arm", "--ms", "5000"]).assert().code(2);
    tool().args(["arm", "--ms", "0"]).assert().code(2);
}

#[test]
fn bad_mode_is_a_usage_error() {
    tool().args(["arm", "--mode", "null-pointer"]).assert().code(2);
}
