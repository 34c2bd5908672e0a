//! Command-line contract: usage errors exit 2 with one line, before
//! anything is loaded.

#[macro_use]
#[path = "../../../shared/testsupport/cli_contract.rs"]
mod cli_contract;

cli_contract_tests!("kswapd-fi", kswapd_fi::command, [
    "arm --ms 5000",
    "arm --ms 0",
    "arm --mode null-pointer",
]
.as_slice());
