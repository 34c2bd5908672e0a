//! The command-line contract shared by the tools' `tests/cli.rs` (included
//! with `#[path]`): bad input exits 2 with one stderr line `TOOL: message`,
//! prints nothing on stdout and creates no journal; `--help` succeeds and has
//! the man page's sections.

// Each test crate uses the half of it that fits its tool.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(bin: &str, args: &[&str], state: &Path) -> (i32, String, String) {
    let out = Command::new(bin).args(args).env("KVMFI_STATE_DIR", state).output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn state_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kvmfi-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Every case of `bad` (split on whitespace) is a usage error of `tool`.
pub fn assert_bad_input_refused(bin: &str, tool: &str, bad: &[&str]) {
    let cases: Vec<(&str, &str)> = bad.iter().map(|args| (*args, "")).collect();
    assert_refused_saying(bin, tool, &cases);
}

/// Every `(args, words)` of `cases` is a usage error of `tool` whose one
/// line contains `words` (anything when empty): the message names the problem.
pub fn assert_refused_saying(bin: &str, tool: &str, cases: &[(&str, &str)]) {
    let state = state_dir(&format!("{tool}-bad"));
    for (args, words) in cases {
        let argv: Vec<&str> = args.split_whitespace().collect();
        let (code, stdout, stderr) = run(bin, &argv, &state);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} printed {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with(&format!("{tool}: ")), "{stderr}");
        assert!(stderr.contains(words), "{args:?} does not say {words:?}: {stderr}");
    }
    assert!(!state.exists(), "bad input created the journal");
}

/// `--help` exits 0 and carries the EXIT STATUS and FILES sections.
pub fn assert_help(bin: &str, tool: &str) {
    let (code, stdout, _) = run(bin, &["--help"], &state_dir(&format!("{tool}-help")));
    assert_eq!(code, 0);
    assert!(stdout.contains("EXIT STATUS") && stdout.contains("FILES"));
}

/// The contract's two tests for one tool: `tool`'s binary refuses every case
/// of `bad` (argument strings, or `(arguments, words the message says)`)
/// and its `--help` and clap `command` are sound.
macro_rules! cli_contract_tests {
    (@help $tool:literal, $command:path) => {
        #[test]
        fn help_and_command() {
            crate::cli_contract::assert_help(env!(concat!("CARGO_BIN_EXE_", $tool)), $tool);
            $command().debug_assert();
        }
    };
    ($tool:literal, $command:path, saying $bad:expr) => {
        #[test]
        fn bad_input_is_usage_error_and_changes_nothing() {
            crate::cli_contract::assert_refused_saying(env!(concat!("CARGO_BIN_EXE_", $tool)), $tool, $bad);
        }
        cli_contract_tests!(@help $tool, $command);
    };
    ($tool:literal, $command:path, $bad:expr) => {
        #[test]
        fn bad_input_is_usage_error_and_changes_nothing() {
            crate::cli_contract::assert_bad_input_refused(env!(concat!("CARGO_BIN_EXE_", $tool)), $tool, $bad);
        }
        cli_contract_tests!(@help $tool, $command);
    };
}
