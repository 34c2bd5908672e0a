//! Command-line contract: usage errors exit 2 with one line naming the
//! problem, before anything is loaded.

#[macro_use]
#[path = "../../../shared/testsupport/cli_contract.rs"]
mod cli_contract;

cli_contract_tests!("mm-fault-fi", mm_fault_fi::command, saying BAD);

const BAD: &[(&str, &str)] = &[
    ("arm --result sigbus", "--yes"),
    ("arm --tgid 1 --addr-range 0x2000-0x1000", "empty"),
    ("arm --tgid 1 --result panic", ""),
];
