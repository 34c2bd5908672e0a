//! Command-line contract: usage errors exit 2 with one line naming the
//! problem; `support` answers per arch.

use assert_cmd::Command;
use predicates::str::contains;

#[macro_use]
#[path = "../../../shared/testsupport/cli_contract.rs"]
mod cli_contract;

cli_contract_tests!("tlb-flush-fi", tlb_flush_fi::command, saying BAD);

const BAD: &[(&str, &str)] = &[
    #[cfg(target_arch = "x86_64")]
    ("arm", "--yes"),
    ("kvm arm", "no scope given"),
    ("kvm arm --tgid 1 --cmd x", ""),
];

#[test]
fn support_answers_for_this_arch() {
    let mut tool = Command::cargo_bin("tlb-flush-fi").unwrap();
    if cfg!(target_arch = "x86_64") {
        tool.arg("support").assert().success().stdout(contains("supported"));
    } else {
        tool.arg("support").assert().code(4).stderr(contains("unsupported"));
    }
}
