//! The original C tools' control programs (`file-read-fi-main`, ...): links
//! to the new binaries that, when invoked under their old name, take the
//! documented positional values or, with no arguments, ask the original
//! stdin prompts in the original order, then write the module's legacy /proc
//! knobs, `signal` last — the same core as the new ioctl interface, reached
//! through its second front door. As in the original, the fault is
//! system-wide; unlike it, values are validated and nothing is written when
//! one is wrong.

use crate::error::{require_root, Error, Result};
use crate::symbols::ModuleSpec;
use crate::tool::{self, ModuleOpts};
use std::io::{BufRead, Write};
use std::path::Path;

pub use crate::symbols::{Program, Prompt};

/// The program invoked as `argv0`, if `argv0` names one of `programs`.
pub fn invoked_as(argv0: &std::ffi::OsStr, programs: &'static [Program]) -> Option<&'static Program> {
    let name = Path::new(argv0).file_name()?.to_str()?;
    programs.iter().find(|p| p.name == name)
}

fn parse_value(p: &Prompt, text: &str) -> Result<i64> {
    let v: i64 = text.trim().parse().map_err(|_| {
        Error::usage(format!("{}: '{}' is not a number ({} must be {} to {})", p.knob, text.trim(), p.knob, p.min, p.max))
    })?;
    if v < p.min || v > p.max {
        return Err(Error::usage(format!("{}: {v} is out of range ({} to {})", p.knob, p.min, p.max)));
    }
    Ok(v)
}

/// Collects the values: from `args` when given (missing trailing values
/// keep the module's current knob value), else by prompting on stdin.
fn collect(prog: &Program, args: &[String]) -> Result<Vec<Option<i64>>> {
    if args.len() > prog.prompts.len() && prog.prompts.is_empty() {
        return Err(Error::usage(format!("takes no values (at most 0), got {}", args.len())));
    }
    if args.len() > prog.prompts.len() {
        return Err(Error::usage(format!(
            "at most {} values ({}), got {}",
            prog.prompts.len(),
            prog.prompts.iter().map(|p| p.knob).collect::<Vec<_>>().join(", "),
            args.len()
        )));
    }
    if !args.is_empty() || prog.prompts.is_empty() {
        let mut values: Vec<Option<i64>> = vec![None; prog.prompts.len()];
        for (i, a) in args.iter().enumerate() {
            values[i] = Some(parse_value(&prog.prompts[i], a)?);
        }
        return Ok(values);
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut values = Vec::new();
    for p in prog.prompts {
        print!("{}: ", p.question);
        std::io::stdout().flush().ok();
        let line = match lines.next() {
            Some(Ok(l)) => l,
            _ => return Err(Error::usage(format!("no value given for {} on standard input", p.knob))),
        };
        values.push(Some(parse_value(p, &line)?));
    }
    println!();
    Ok(values)
}

/// Runs an original control program of `spec`; `args` excludes argv[0].
pub fn run(spec: &ModuleSpec, prog: &Program, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        if prog.prompts.is_empty() {
            println!("usage: {}\nTakes no values (as the original).", prog.name);
        } else {
            println!(
                "usage: {} [{}]\nWith no arguments, asks for each value on standard input (as the original did).",
                prog.name,
                prog.prompts.iter().map(|p| p.knob.to_uppercase()).collect::<Vec<_>>().join(" ")
            );
        }
        println!("Arms {} system-wide through /proc/{}/; see `man {}`.", spec.module, prog.proc_dir, spec.tool);
        return Ok(());
    }
    require_root(prog.name)?;
    let values = collect(prog, args)?;
    tool::ensure_loaded(spec, &ModuleOpts::default())?;
    let dir = Path::new("/proc").join(prog.proc_dir);
    for (p, v) in prog.prompts.iter().zip(values) {
        if let Some(v) = v {
            write_knob(&dir.join(p.knob), v)?;
        }
    }
    // Said before `signal` is written, the last thing the program does (as
    // in the original): once armed, a system-wide write fault (file-write-fi)
    // would fail this very line, and a read fault any later read.
    println!(
        "{}: armed {} (system-wide) by `echo 1 > /proc/{}/signal`; disarm with `echo 0 > /proc/{}/signal` or `{} off`",
        prog.name, spec.module, prog.proc_dir, prog.proc_dir, spec.tool
    );
    write_knob(&dir.join("signal"), 1)
}

fn write_knob(path: &Path, value: i64) -> Result<()> {
    std::fs::write(path, format!("{value}\n")).map_err(|e| Error::io(format!("writing {value} to {}", path.display()), e))
}
