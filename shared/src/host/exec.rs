//! Running host tools (`nft`, `tc`, `mariadb`, `hdfs`, ...): finding them,
//! running them with a time limit, and turning their failures into the
//! toolbox's error kinds.

use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Finds `name` in `$PATH`, then in each of `extra` directories (PATH
/// alone decides, so a test or a user can hide a tool).
/// Returns `None` when it is nowhere.
pub fn which(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Like [`which`], but a missing tool is an [`Error::Unsupported`] (exit 4)
/// that says what to install.
pub fn require_tool(name: &str, install_hint: &str) -> Result<PathBuf> {
    which(name, &[]).ok_or_else(|| {
        Error::unsupported(format!("'{name}' not found on PATH; install it ({install_hint})"))
    })
}

/// What a finished command produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit code; `None` when killed by a signal or by the time limit.
    pub code: Option<i32>,
    /// True when the time limit killed it.
    pub timed_out: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// True on exit status 0.
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
    /// The first non-empty line of stderr (else stdout), for error messages.
    pub fn first_error_line(&self) -> String {
        self.stderr
            .lines()
            .chain(self.stdout.lines())
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("(no output)")
            .to_string()
    }
}

/// Quotes one word for display as a shell command.
pub fn shell_quote(word: &str) -> String {
    if crate::cliparse::is_plain_word(word, usize::MAX, "-_./=:,+@%") {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A command line as one shell-ready string.
pub fn display_argv<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter().map(|a| shell_quote(a.as_ref())).collect::<Vec<_>>().join(" ")
}

/// Runs `argv` (argv[0] is the program), feeding `stdin`, killing it after
/// `timeout`. Spawn failures are errors; a non-zero exit is not (check
/// [`Output::ok`]).
pub fn run(argv: &[String], stdin: Option<&str>, timeout: Duration) -> Result<Output> {
    let (prog, args) = argv.split_first().ok_or_else(|| Error::failed("empty command"))?;
    let mut cmd = Command::new(prog);
    cmd.args(args.iter().map(OsStr::new))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::unsupported(format!("'{prog}' not found; install it or fix PATH"))
        } else {
            Error::io(format!("starting {prog}"), e)
        }
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A command that exits without reading its input is not our error.
        let _ = pipe.write_all(text.as_bytes());
    }
    // Readers on threads, so a chatty child cannot block on a full pipe.
    let mut out_pipe = child.stdout.take();
    let mut err_pipe = child.stderr.take();
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = out_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_string(&mut s);
        }
        s
    });
    let start = Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| Error::io(format!("waiting for {prog}"), e))? {
            break st;
        }
        if start.elapsed() >= timeout {
            timed_out = true;
            let _ = child.kill();
            break child.wait().map_err(|e| Error::io(format!("waiting for {prog}"), e))?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        code: if timed_out { None } else { status.code() },
        timed_out,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    })
}

/// Runs `argv` and fails (exit 1) unless it exits 0; the error quotes the
/// command and its first line of complaint.
pub fn run_ok(argv: &[String], stdin: Option<&str>, timeout: Duration) -> Result<Output> {
    let out = run(argv, stdin, timeout)?;
    if out.timed_out {
        return Err(Error::failed(format!(
            "'{}' did not finish within {}s",
            display_argv(argv),
            timeout.as_secs()
        )));
    }
    if !out.ok() {
        let text = format!("{}{}", out.stderr, out.stdout);
        if text.contains("qdisc kind is unknown") || text.contains("Unknown qdisc") {
            // tc ... handle H KIND ...: name the missing module.
            let kind = argv
                .iter()
                .position(|w| w == "handle")
                .and_then(|i| argv.get(i + 2))
                .map(String::as_str)
                .unwrap_or("netem");
            return Err(Error::unsupported(format!(
                "'{}' failed: {}; this kernel lacks the '{kind}' qdisc: modprobe sch_{kind} \
                 (api-delay needs sch_prio and sch_netem, shipped with the distribution kernel's modules)",
                display_argv(argv),
                out.first_error_line()
            )));
        }
        return Err(Error::failed(format!(
            "'{}' failed: {}",
            display_argv(argv),
            out.first_error_line()
        )));
    }
    Ok(out)
}

/// Converts a list of `&str` into the owned argv [`run`] takes.
pub fn argv<I, S>(words: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    words.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_times_out() {
        let o = run(&argv(["sh", "-c", "echo hi; echo err >&2; exit 3"]), None, Duration::from_secs(5)).unwrap();
        assert_eq!(o.code, Some(3));
        assert_eq!(o.stdout.trim(), "hi");
        assert_eq!(o.first_error_line(), "err");
        let o = run(&argv(["sleep", "5"]), None, Duration::from_millis(200)).unwrap();
        assert!(o.timed_out);
        let o = run(&argv(["cat"]), Some("abc"), Duration::from_secs(5)).unwrap();
        assert_eq!(o.stdout, "abc");
    }

    #[test]
    fn quoting() {
        assert_eq!(display_argv(&["nft", "-f", "-"]), "nft -f -");
        assert_eq!(shell_quote("a b'c"), "'a b'\\''c'");
    }
}
