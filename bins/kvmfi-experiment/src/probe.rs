//! Running a probe once: did the system stay within its tolerance?

use crate::remote::NodeRef;
use crate::spec::{self, Probe, ProbeKind};
use crate::tools;
use regex::Regex;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// One run of one probe.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProbeResult {
    pub probe: String,
    /// `before`, `during`, `method` (a probe step), `after`.
    pub phase: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub ok: bool,
    /// What was seen (status, output, error).
    pub detail: String,
}

/// Runs `p` once (its command on `node` when it names one).
pub fn run(p: &Probe, phase: &str, node: Option<&NodeRef>) -> ProbeResult {
    let start_ms = tools::now_ms();
    let t0 = Instant::now();
    let (mut ok, mut detail) = match check(p, node) {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    let took = t0.elapsed();
    if let Some(max) = p.max_latency {
        if ok && took > max {
            ok = false;
            detail = format!("{detail}; took {} ms, more than the {} ms allowed", took.as_millis(), max.as_millis());
        }
    }
    ProbeResult { probe: p.name.clone(), phase: phase.into(), start_ms, end_ms: tools::now_ms(), ok, detail }
}

fn check(p: &Probe, node: Option<&NodeRef>) -> Result<String, String> {
    match &p.kind {
        ProbeKind::Command { argv, exit, output } => {
            let out = command(node, argv, &[], p.timeout)?;
            if out.timed_out {
                return Err(format!("timed out after {} ms", p.timeout.as_millis()));
            }
            let code = out.code.unwrap_or(-1);
            if code != *exit {
                return Err(format!("exit status {code}, expected {exit}: {}", last_line(&out.stderr, &out.stdout)));
            }
            must_match(output.as_ref(), "output", &out.stdout)?;
            Ok(format!("exit status {code}"))
        }
        ProbeKind::Http { host, port, path, status } => {
            let got = http_get(host, *port, path, p.timeout)?;
            if got != *status {
                return Err(format!("HTTP status {got}, expected {status}"));
            }
            Ok(format!("HTTP {got}"))
        }
        ProbeKind::Tcp { address } => {
            connect(address, p.timeout)?;
            Ok(format!("connected to {address}"))
        }
        ProbeKind::Hdfs { argv, min_live } => {
            let out = command(node, argv, &["dfsadmin".into(), "-report".into()], p.timeout)?;
            if out.code != Some(0) {
                return Err(format!("dfsadmin -report failed: {}", last_line(&out.stderr, &out.stdout)));
            }
            let live = live_datanodes(&out.stdout).ok_or("dfsadmin -report printed no 'Live datanodes (N)' line")?;
            if live < *min_live {
                return Err(format!("{live} live DataNode(s), at least {min_live} required"));
            }
            Ok(format!("{live} live DataNode(s)"))
        }
        ProbeKind::Mariadb { argv, query, expect } => {
            let out = command(node, argv, &["-N".into(), "-B".into(), "-e".into(), query.clone()], p.timeout)?;
            if out.code != Some(0) {
                return Err(format!("query failed: {}", last_line(&out.stderr, &out.stdout)));
            }
            must_match(expect.as_ref(), "result", &out.stdout)?;
            Ok(format!("result: {}", last_line(&out.stdout, "")))
        }
        ProbeKind::Qmp { socket, state } => {
            let got = qmp_status(socket, p.timeout)?;
            if &got != state {
                return Err(format!("QEMU status '{got}', expected '{state}'"));
            }
            Ok(format!("QEMU status {got}"))
        }
    }
}

/// Out of tolerance when the probe has a pattern (`re`) and `stdout` does
/// not match it; `what` names the text in the message.
fn must_match(re: Option<&Regex>, what: &str, stdout: &str) -> Result<(), String> {
    match re {
        Some(re) if !re.is_match(stdout) => {
            Err(format!("{what} does not match /{}/: {}", spec::pattern(re), last_line(stdout, "")))
        }
        _ => Ok(()),
    }
}

fn last_line(a: &str, b: &str) -> String {
    let pick = |s: &str| s.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string());
    let l = pick(a).or_else(|| pick(b)).unwrap_or_default();
    l.chars().take(200).collect()
}

fn command(node: Option<&NodeRef>, argv: &[String], extra: &[String], timeout: Duration) -> Result<kvmfi::exec::Output, String> {
    let mut all = argv.to_vec();
    all.extend(extra.iter().cloned());
    match node {
        Some(n) => n.run(&all, timeout),
        None => kvmfi::exec::run(&all, None, timeout),
    }
    .map_err(|e| e.to_string())
}

fn connect(address: &str, timeout: Duration) -> Result<TcpStream, String> {
    let addrs: Vec<_> = address.to_socket_addrs().map_err(|e| format!("{address}: {e}"))?.collect();
    let mut last = format!("{address}: no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("connect to {a}: {e}"),
        }
    }
    Err(last)
}

/// A plain HTTP/1.1 GET; returns the status code.
fn http_get(host: &str, port: u16, path: &str, timeout: Duration) -> Result<u16, String> {
    let mut s = connect(&format!("{host}:{port}"), timeout)?;
    s.set_read_timeout(Some(timeout)).and_then(|_| s.set_write_timeout(Some(timeout))).map_err(|e| e.to_string())?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nUser-Agent: kvmfi-experiment\r\n\r\n")
        .map_err(|e| format!("sending the request: {e}"))?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).map_err(|e| format!("reading the answer: {e}"))?;
    let code = line.split_whitespace().nth(1).and_then(|c| c.parse().ok());
    code.ok_or_else(|| format!("not an HTTP answer: {:?}", line.trim()))
}

/// The N of `Live datanodes (N):` in a dfsadmin report.
pub fn live_datanodes(report: &str) -> Option<u32> {
    report.lines().find_map(|l| l.trim().strip_prefix("Live datanodes (")?.split(')').next()?.parse().ok())
}

/// QMP: greeting, qmp_capabilities, query-status; returns its `status`.
fn qmp_status(socket: &std::path::Path, timeout: Duration) -> Result<String, String> {
    let s = UnixStream::connect(socket).map_err(|e| format!("{}: {e}", socket.display()))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
    let mut w = s.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::new(s);
    let read_reply = |r: &mut BufReader<UnixStream>| -> Result<serde_json::Value, String> {
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).map_err(|e| format!("reading QMP: {e}"))? == 0 {
                return Err("QMP closed the connection".into());
            }
            let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| format!("QMP sent bad JSON: {e}"))?;
            // Asynchronous events come in between: skip them.
            if v.get("event").is_none() {
                return Ok(v);
            }
        }
    };
    let greet = read_reply(&mut r)?;
    if greet.get("QMP").is_none() {
        return Err("no QMP greeting".into());
    }
    w.write_all(b"{\"execute\":\"qmp_capabilities\"}\n").map_err(|e| e.to_string())?;
    read_reply(&mut r)?;
    w.write_all(b"{\"execute\":\"query-status\"}\n").map_err(|e| e.to_string())?;
    let v = read_reply(&mut r)?;
    v.pointer("/return/status").and_then(|s| s.as_str()).map(String::from).ok_or_else(|| format!("unexpected QMP answer: {v}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_datanodes_from_report() {
        let r = "Configured Capacity: 1\n-------------------------------------------------\nLive datanodes (2):\n\nName: 127.0.0.1:9866\n";
        assert_eq!(live_datanodes(r), Some(2));
        assert_eq!(live_datanodes("nothing"), None);
    }
}
