//! Argument fuzzing of every tool's command line: random argv built from each tool's own subcommands, flags
//! and possible values mixed with hostile strings. Parsing (clap plus our
//! value parsers: durations, sizes, errno names, ranges, addresses) must
//! answer with matches or an error, never a panic, and the error must fold
//! to the one line the tools print.

use clap::Command;
use proptest::prelude::*;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Words a user could type at this tool: subcommand names at every depth,
/// every long and short flag, every possible value.
fn vocabulary(cmd: &Command, words: &mut Vec<String>) {
    for arg in cmd.get_arguments() {
        if let Some(l) = arg.get_long() {
            words.push(format!("--{l}"));
            words.push(format!("--{l}="));
        }
        if let Some(s) = arg.get_short() {
            words.push(format!("-{s}"));
        }
        for v in arg.get_possible_values() {
            words.push(v.get_name().to_string());
        }
    }
    for sub in cmd.get_subcommands() {
        words.push(sub.get_name().to_string());
        words.extend(sub.get_all_aliases().map(str::to_string));
        vocabulary(sub, words);
    }
}

/// Values that have broken parsers elsewhere: empty, signs, overflow,
/// units, separators, control and non-ASCII characters.
const HOSTILE: &[&str] = &[
    "",
    "-",
    "--",
    "0",
    "-1",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "1e309",
    "NaN",
    "0x",
    "0xffffffffffffffffff",
    "1..",
    "..1",
    "5-3",
    "1,,2",
    "10ms",
    "99999999999d",
    "100%",
    "101%",
    "EIO",
    "eio",
    "E",
    "ENOENT,EIO",
    "256.1.1.1",
    "::1",
    "1.2.3.4/33",
    "nn,dn",
    "a=b",
    "=",
    "\u{0}",
    "\n",
    "é",
    "💥",
    "/dev/null",
    "/nonexistent/x",
];

thread_local! {
    /// Each tool with its vocabulary, built once: building all the commands
    /// per case would dominate the run time.
    static TOOLS: Vec<(Command, Vec<String>)> = kvmfi_doc::tools()
        .into_iter()
        .map(|c| {
            let mut words = Vec::new();
            vocabulary(&c, &mut words);
            (c, words)
        })
        .collect();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn every_tool_parses_any_argv_without_panic(
        tool in 0usize..64,
        picks in proptest::collection::vec((any::<u16>(), 0u8..4, "(?s).{0,12}"), 0..7),
    ) {
        let (cmd, words) = TOOLS.with(|t| t[tool % t.len()].clone());
        let mut argv = vec![cmd.get_name().to_string()];
        for (n, kind, random) in picks {
            argv.push(match kind {
                0 | 1 => words[n as usize % words.len()].clone(),
                2 => HOSTILE[n as usize % HOSTILE.len()].to_string(),
                _ => random,
            });
        }
        let parsed = catch_unwind(AssertUnwindSafe(|| cmd.clone().try_get_matches_from(argv.clone())));
        prop_assert!(parsed.is_ok(), "{} panicked on {:?}", cmd.get_name(), argv);
        if let Ok(Err(e)) = parsed {
            let line = kvmfi::cliparse::one_line(&e.to_string());
            prop_assert!(!line.contains('\n'), "multi-line error for {:?}", argv);
        }
    }
}
