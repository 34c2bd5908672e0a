//! Command-line contract: usage errors exit 2 with one line naming the
//! problem and change nothing (they are detected before the module is looked
//! for, so these run anywhere).

use assert_cmd::Command;

#[macro_use]
#[path = "../../../shared/testsupport/cli_contract.rs"]
mod cli_contract;

cli_contract_tests!("cpu-reg-main", cpu_reg_main::command, saying BAD);

const BAD: &[(&str, &str)] = &[
    ("1234", "<TYPE>"),
    ("1234 10", ""),
    ("arm --reg pc", "--yes"),
    ("arm --tgid 1 --reg nosuch", "not a register"),
    ("arm --tgid 1 --reg pc --flip-bit 3 --set 0", ""),
];

#[test]
fn help_lists_every_type() {
    let out = Command::cargo_bin("cpu-reg-main").unwrap().arg("--help").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for t in 1..=9 {
        assert!(text.contains(&format!("\n  {t}  ")), "type {t} missing from --help");
    }
}
