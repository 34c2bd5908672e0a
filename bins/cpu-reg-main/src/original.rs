//! The original cpu-reg-main: `cpu-reg-main PID TYPE` where subcommands
//! go, or with no arguments the original stdin prompts; both arm through the
//! ioctl interface as the original did, with a lease.

use crate::arch::{aim_fault, fault_type, native, reg_name, Arch, Fault};
use crate::parse_u64;
use clap::Args;
use kvmfi::abi::{self, Arm};
use kvmfi::kernel_tool::TopOptions;
use kvmfi::symbols::CPU_REG;
use kvmfi::tool::{self, ModuleOpts};
use kvmfi::{run, units, Error, Result};
use std::io::{BufRead, Write};
use std::time::Duration;

/// The original form's arguments, before any subcommand.
#[derive(Args, Debug)]
pub struct Top {
    /// Original form: the process whose new threads and child processes are hit
    #[arg(value_name = "PID", requires = "fault_type", value_parser = clap::value_parser!(i32).range(1..))]
    pid: Option<i32>,
    /// Original form: the fault type number (1 = flip a random bit of the PC; see FAULT TYPES)
    #[arg(value_name = "TYPE", value_parser = clap::value_parser!(u32).range(1..=9))]
    fault_type: Option<u32>,
    #[command(flatten)]
    legacy: LegacyOpts,
}

/// Options of the original `cpu-reg-main PID TYPE` form.
#[derive(Args, Debug)]
#[command(next_help_heading = "Original form (cpu-reg-main PID TYPE)")]
struct LegacyOpts {
    /// Number of new tasks to corrupt, then disarm (-1 = unlimited until the lease ends)
    #[arg(long, value_name = "N", default_value_t = 1, allow_negative_numbers = true,
          value_parser = clap::value_parser!(i64).range(-1..), requires = "pid")]
    times: i64,
    /// Seed of the random bit (and register) choice, for reproducible runs
    #[arg(long, value_name = "SEED", value_parser = parse_u64, requires = "pid")]
    seed: Option<u64>,
    /// Lease: disarm by itself after this long
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = units::parse_duration, requires = "pid")]
    duration: Duration,
}

impl TopOptions for Top {
    /// The original form (`cpu-reg-main PID TYPE`), or with no arguments the original prompts.
    fn run(self) -> Result<()> {
        let arch = native();
        match (self.pid, self.fault_type) {
            (Some(pid), Some(t)) => {
                let fault = fault_type(arch, t)?;
                if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    return Err(Error::not_found(format!("PID {pid}: no such process")));
                }
                let mut req = legacy_request(self.legacy.times, self.legacy.duration, fault, self.legacy.seed);
                req.filter |= abi::FILTER_TGID;
                req.tgid = pid;
                arm_request(req)
            }
            _ => prompts(arch, std::io::stdin().lock()),
        }
    }
}

/// A request as the original interface arms it: dmesg line per injection,
/// replacing what is armed, with a lease.
fn legacy_request(times: i64, lease: Duration, fault: Fault, seed: Option<u64>) -> Arm {
    let mut req = Arm { times, verbose: 1, flags: abi::ARM_REPLACE, ..Arm::default() };
    req.duration_ms = lease.as_millis().min(u64::MAX as u128) as u64;
    fault.fill(&mut req, seed);
    req
}

fn arm_request(mut req: Arm) -> Result<()> {
    kvmfi::error::require_root(CPU_REG.tool)?;
    let dev = tool::ensure_loaded(&CPU_REG, &ModuleOpts::default())?;
    let id = dev.arm(&mut req)?;
    run::out(format!("{id:016x}"))
}

/// Reads one answer; None at end of input.
fn ask(input: &mut impl BufRead, prompt: &str) -> Result<Option<String>> {
    let mut out = std::io::stdout().lock();
    write!(out, "{prompt}").and_then(|_| out.flush()).map_err(|e| Error::io("writing to standard output", e))?;
    let mut line = String::new();
    let n = input.read_line(&mut line).map_err(|e| Error::io("reading standard input", e))?;
    Ok((n > 0).then(|| line.trim().to_string()))
}

fn ask_number(input: &mut impl BufRead, prompt: &str, what: &str) -> Result<i64> {
    let answer = ask(input, prompt)?.ok_or_else(|| Error::usage(format!("{what}: no answer (end of input)")))?;
    answer.parse().map_err(|_| Error::usage(format!("{what}: '{answer}' is not a number")))
}

/// The original interactive interface: aim, times, mode; then an optional pid.
fn prompts(arch: &Arch, mut input: impl BufRead) -> Result<()> {
    kvmfi::error::require_root(CPU_REG.tool)?;
    let names: Vec<String> = arch.aim.iter().map(|r| reg_name(arch, *r)).collect();
    let aim = ask_number(
        &mut input,
        &format!(
            "aim (1 {} 2 {} 4 {} 8 {} 16 {} 32 {} 64 {} 128 {} 256 {} 512 {}): ",
            names[0], names[1], names[2], names[3], names[4], names[5], names[6], names[7], names[8], names[9]
        ),
        "aim",
    )?;
    let times = ask_number(&mut input, "times: ", "times")?;
    if times < -1 {
        return Err(Error::usage(format!("times {times}: use a count, or -1 for unlimited")));
    }
    let lasting = ask_number(&mut input, "mode (0 flip a random bit, 1 set to zero): ", "mode")?;
    let fault = aim_fault(arch, aim, lasting)?;
    let pid = match ask(&mut input, "target pid (empty = every process): ")? {
        None => None,
        Some(s) if s.is_empty() || s == "0" => None,
        Some(s) => Some(s.parse::<i32>().ok().filter(|p| *p > 0).ok_or_else(|| Error::usage(format!("pid: '{s}' is not a process id")))?),
    };
    run::out("")?;
    let lease = Duration::from_secs(600);
    let mut req = legacy_request(times, lease, fault, None);
    let count = if times < 0 { "every".to_string() } else { format!("the next {times}") };
    match pid {
        Some(p) => {
            req.filter |= abi::FILTER_TGID;
            req.tgid = p;
        }
        None => eprintln!(
            "{}: armed for EVERY process, as the original tool: {count} task(s) created by any process will {} \
             (lease 10m; undo with `{} off`)",
            CPU_REG.tool,
            fault.describe(arch),
            CPU_REG.tool
        ),
    }
    arm_request(req)?;
    // The original program wrote its answers to the /proc knobs: show them there too.
    for (knob, v) in [("aim", aim), ("times", times), ("lasting", lasting)] {
        let _ = std::fs::write(format!("/proc/cpu-general-fi/{knob}"), format!("{v}\n"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::X86_64;

    #[test]
    fn prompts_need_three_answers() {
        let err = prompts(&X86_64, std::io::Cursor::new("512\n")).unwrap_err();
        // Either not root (exit 3) or the missing answer (exit 2): nothing armed.
        assert!(matches!(err.code(), 2 | 3), "{err}");
    }
}
