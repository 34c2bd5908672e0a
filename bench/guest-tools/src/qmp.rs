//! `qmp`: a minimal QMP client for the bench scenarios that drive QEMU.
//!
//! ```text
//! qmp SOCKET [--alarm SECS] REQUEST...
//! ```
//!
//! Connects to QEMU's QMP unix socket, reads the greeting, negotiates
//! (`qmp_capabilities`) and sends every REQUEST in order, each answered
//! before the next is sent. A REQUEST is either a whole JSON command
//! (`{"execute":"query-status"}`) or `hmp:` followed by a human monitor
//! command line (`hmp:info registers`), sent as `human-monitor-command`.
//!
//! Output: per request one line, the JSON answer as QEMU sent it; for an
//! `hmp:` request the answer's text instead, unescaped (it may span lines).
//! Asynchronous events are skipped. Exit status 0 when every request was
//! answered with `return`, 1 when one was answered with `error` (the rest
//! are still sent) or the connection failed, 2 on a usage error.
//! `--alarm SECS` (default 30): SIGALRM ends a hung exchange.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::ExitCode;

/// Reads answer lines until one that is not an event; `None` at EOF.
fn answer(r: &mut impl BufRead) -> std::io::Result<Option<String>> {
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end().to_owned();
        if line.starts_with("{\"timestamp\"") || line.contains("\"event\":") && !line.contains("\"return\"") {
            continue;
        }
        return Ok(Some(line));
    }
}

/// The JSON string literal for `s` (quotes included).
fn json_string(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// The text of `{"return": "..."}` (an HMP answer), unescaped; None if the
/// answer is not a string return.
fn hmp_text(ans: &str) -> Option<String> {
    let rest = ans.strip_prefix("{\"return\": \"")?;
    let body = rest.strip_suffix("\"}")?;
    let mut o = String::new();
    let mut it = body.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            o.push(c);
            continue;
        }
        match it.next() {
            Some('n') => o.push('\n'),
            Some('r') => {}
            Some('t') => o.push('\t'),
            Some('u') => {
                let hex: String = it.by_ref().take(4).collect();
                if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    o.push(ch);
                }
            }
            Some(other) => o.push(other),
            None => {}
        }
    }
    Some(o)
}

fn run(sock: &str, reqs: &[String]) -> Result<bool, String> {
    let s = UnixStream::connect(sock).map_err(|e| format!("connect {sock}: {e}"))?;
    let mut r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
    let mut w = s;
    let io = |e: std::io::Error| format!("QMP {sock}: {e}");
    answer(&mut r).map_err(io)?.ok_or("QEMU closed QMP before its greeting")?;
    writeln!(w, "{{\"execute\":\"qmp_capabilities\"}}").map_err(io)?;
    answer(&mut r).map_err(io)?.ok_or("QEMU closed QMP during negotiation")?;
    let mut all_ok = true;
    for q in reqs {
        let (line, hmp) = match q.strip_prefix("hmp:") {
            Some(cmd) => (
                format!(
                    "{{\"execute\":\"human-monitor-command\",\"arguments\":{{\"command-line\":{}}}}}",
                    json_string(cmd)
                ),
                true,
            ),
            None => (q.clone(), false),
        };
        writeln!(w, "{line}").map_err(io)?;
        let ans = answer(&mut r).map_err(io)?.ok_or_else(|| format!("QEMU closed QMP before answering {q}"))?;
        if !ans.starts_with("{\"return\"") {
            all_ok = false;
        }
        match hmp.then(|| hmp_text(&ans)).flatten() {
            Some(text) => print!("{text}{}", if text.ends_with('\n') { "" } else { "\n" }),
            None => println!("{ans}"),
        }
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut alarm = 30u32;
    let mut rest = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--alarm" {
            match it.next().and_then(|v| v.parse().ok()) {
                Some(v) => alarm = v,
                None => {
                    eprintln!("qmp: --alarm needs a number of seconds");
                    return ExitCode::from(2);
                }
            }
        } else {
            rest.push(a);
        }
    }
    if rest.len() < 2 {
        eprintln!("usage: qmp SOCKET [--alarm SECS] REQUEST... (REQUEST: a JSON command or hmp:COMMAND-LINE)");
        return ExitCode::from(2);
    }
    // SAFETY: alarm(2) only schedules SIGALRM for this process.
    unsafe { libc::alarm(alarm) };
    match run(&rest[0], &rest[1..]) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("qmp: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmp_answer_is_unescaped() {
        let a = r#"{"return": "RIP=000000000000fff0 \"x\"\r\nnext\\"}"#;
        assert_eq!(hmp_text(a).unwrap(), "RIP=000000000000fff0 \"x\"\nnext\\");
        assert_eq!(hmp_text(r#"{"error": {"class": "GenericError"}}"#), None);
    }

    #[test]
    fn hmp_command_is_quoted() {
        assert_eq!(json_string("xp /1wx 0x500"), "\"xp /1wx 0x500\"");
        assert_eq!(json_string("a\"b\\"), "\"a\\\"b\\\\\"");
    }

    #[test]
    fn events_are_skipped() {
        let mut r = std::io::Cursor::new(
            "{\"timestamp\": {\"seconds\": 1}, \"event\": \"STOP\"}\n{\"return\": {}}\n".as_bytes(),
        );
        assert_eq!(answer(&mut r).unwrap().unwrap(), "{\"return\": {}}");
        assert_eq!(answer(&mut r).unwrap(), None);
    }
}
