//! Argument parsing for the user-space injectors: clap errors become one
//! line and exit status 2 through the shared [`crate::run::main`], while
//! `--help` and `--version` print and succeed.

use crate::error::{Error, Result};
use clap::{ArgMatches, Command, FromArgMatches};
use std::ffi::OsString;

/// A command line, argv[0] included, as a tool's `run` takes it:
/// `std::env::args_os()` in `main`, a list of strings in a test.
pub trait Argv: IntoIterator<Item = <Self as Argv>::Arg> {
    /// One argument.
    type Arg: Into<OsString> + Clone;
}

impl<I, T> Argv for I
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    type Arg = T;
}

/// The arguments after `marker` when argv[1] is `marker`: how a tool runs
/// itself again as its own detached helper (lease timer, stress, lock
/// holder), which must bypass the user-facing command line.
pub fn helper_args(args: &[OsString], marker: &str) -> Option<Vec<String>> {
    (args.get(1).and_then(|a| a.to_str()) == Some(marker))
        .then(|| args[2..].iter().map(|a| a.to_string_lossy().into_owned()).collect())
}

/// Parses `args` (argv[0] included) with `cmd`. `Ok(None)` means help or
/// version text was printed and the tool should exit 0.
pub fn parse(cmd: Command, args: impl Argv) -> Result<Option<ArgMatches>> {
    match cmd.try_get_matches_from(args) {
        Ok(m) => Ok(Some(m)),
        Err(e) => {
            use clap::error::ErrorKind::*;
            match e.kind() {
                DisplayHelp | DisplayVersion => {
                    e.print().map_err(|io| Error::io("writing help", io))?;
                    Ok(None)
                }
                DisplayHelpOnMissingArgumentOrSubcommand => {
                    Err(Error::usage("a subcommand is required; see --help for the list"))
                }
                _ => Err(Error::usage(one_line(&e.render().to_string()))),
            }
        }
    }
}

/// [`parse`], then the typed command line `C` read from the matches (an
/// error there is a usage error too).
pub fn parse_into<C: FromArgMatches>(cmd: Command, args: impl Argv) -> Result<Option<C>> {
    let Some(m) = parse(cmd, args)? else { return Ok(None) };
    C::from_arg_matches(&m).map(Some).map_err(|e| Error::usage(one_line(&e.to_string())))
}

/// A tool's start: when argv[1] is `marker`, runs `helper` on the rest
/// (the tool's own detached helper) and returns `Ok(None)`; otherwise
/// [`parse_into`].
pub fn parse_or_helper<C: FromArgMatches>(
    cmd: Command,
    args: impl Argv,
    marker: &str,
    helper: fn(&[String]) -> Result<()>,
) -> Result<Option<C>> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    if let Some(rest) = helper_args(&args, marker) {
        return helper(&rest).map(|()| None);
    }
    parse_into(cmd, args)
}

/// Whether `text` is a plain word: 1 to `max_len` ASCII letters, digits
/// and characters of `punctuation`, so that a shell, SQL or a path reads
/// it as the one word it is.
pub fn is_plain_word(text: &str, max_len: usize, punctuation: &str) -> bool {
    !text.is_empty() && text.len() <= max_len && text.chars().all(|c| c.is_ascii_alphanumeric() || punctuation.contains(c))
}

/// `text` when it is a plain word ([`is_plain_word`]), else the error
/// "'TEXT' is not WHAT" for a value parser.
pub fn plain_word(text: &str, max_len: usize, punctuation: &str, what: &str) -> std::result::Result<String, String> {
    if is_plain_word(text, max_len, punctuation) {
        Ok(text.to_string())
    } else {
        Err(format!("'{text}' is not {what}"))
    }
}

/// Folds clap's multi-line error into one line: the message, the list of
/// possible values or the tip, and the pointer to `--help`.
pub fn one_line(text: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.strip_prefix("error: ").unwrap_or(line);
        if line.starts_with("Usage:") {
            continue;
        }
        // clap's "[possible values: ...]": the brackets only, never a ']' of the message.
        let line = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')).unwrap_or(line);
        parts.push(line.to_string());
    }
    let mut s = parts.join("; ");
    if !s.contains("--help") {
        s.push_str("; try --help");
    }
    s
}

/// The typed command line `C` as clap's own `try_parse_from` reads it, for
/// kvmfi-experiment and kvmfi-halt: `--help` and `--version` print as plain
/// text and succeed; every other error, a missing subcommand included (its
/// help on one line), is one usage line. [`parse_into`] is the others' way.
pub fn parse_plain<C: clap::Parser>(args: impl Argv) -> Result<Option<C>> {
    match C::try_parse_from(args) {
        Ok(c) => Ok(Some(c)),
        Err(e) if matches!(e.kind(), clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion) => {
            print!("{e}");
            Ok(None)
        }
        Err(e) => Err(Error::usage(one_line(&e.to_string()))),
    }
}

/// Changes subcommand `name` where it stands (`Command::mut_subcommand`
/// moves it to the end, and the man page lists subcommands in that order).
pub fn edit_subcommand(cmd: Command, name: &str, f: impl Fn(Command) -> Command) -> Command {
    cmd.mut_subcommands(|c| if c.get_name() == name { f(c) } else { c })
}

#[cfg(test)]
mod tests {
    #[test]
    fn plain_words() {
        use super::{is_plain_word, plain_word};
        assert!(is_plain_word("node-1.example_x", 64, "-._"));
        assert!(!is_plain_word("", 64, "-._"), "empty");
        assert!(!is_plain_word("abc", 2, ""), "too long");
        for bad in ["a b", "a;b", "a'b", "a/b", "ä"] {
            assert!(!is_plain_word(bad, 64, "-._"), "{bad}");
        }
        assert_eq!(plain_word("cloud", 80, "_-.$", "a user"), Ok("cloud".to_string()));
        assert_eq!(plain_word("x'y", 80, "_-.$", "a user"), Err("'x'y' is not a user".to_string()));
        // The kernel function names of func-fail-fi and kvmfi-check.
        let f = crate::kernel::kallsyms::parse_function;
        assert!(f("do_sys_openat2").is_ok() && f("_x.part.0").is_ok());
        for bad in ["", "1abc", ".x", "a-b", &"a".repeat(257)] {
            assert!(f(bad).unwrap_err().contains("is not a kernel function name"), "{bad}");
        }
    }

    #[test]
    fn folds() {
        let t = "error: invalid value 'xx' for '<COMPONENT>'\n  [possible values: nn, dn]\n\nFor more information, try '--help'.\n";
        assert_eq!(
            super::one_line(t),
            "invalid value 'xx' for '<COMPONENT>'; possible values: nn, dn; For more information, try '--help'."
        );
    }
}
