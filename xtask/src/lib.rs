//! Man pages and completions generated from each tool's clap definition, so
//! that `--help`, the man page and the completions never disagree.
//!
//! The page layout follows man-pages(7): NAME, SYNOPSIS, DESCRIPTION,
//! COMMANDS (each subcommand with its options), OPTIONS, then the sections
//! a tool declares in its `after_long_help` as `HEADING: text` paragraphs
//! (EXIT STATUS, FILES, EXAMPLES, ...).

mod cluster_manage;
pub mod legacy_links;

use clap::Command;
use std::fmt::Write;

/// Every tool: its name and clap definition.
pub fn tools() -> Vec<Command> {
    vec![
        vfs_read_fi::command(),
        vfs_write_fi::command(),
        kvm_ioctl_fi::command(),
        memslot_fi::command(),
        vcpu_state_fi::command(),
        kvm_version_fi::command(),
        dirty_log_fi::command(),
        kvmfi_check::command(),
        func_fail_fi::command(),
        kfail_fi::command(),
        disk_fi::command(),
        hadoop_injector::command(),
        cloudstack_injector::command(),
        cluster_controller::command(),
        cluster_manage::command(),
        cpu_reg_main::command(),
        mm_fault_fi::command(),
        kswapd_fi::command(),
        tlb_flush_fi::command(),
    ]
}

/// Man section of every kvmfi tool: system administration (needs root).
pub const SECTION: &str = "8";

fn esc(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let l = line.replace('\\', "\\e").replace('-', "\\-");
        if l.starts_with('.') || l.starts_with('\'') {
            out.push_str("\\&");
        }
        out.push_str(&l);
        out.push('\n');
    }
    out.trim_end_matches('\n').to_string()
}

fn arg_line(arg: &clap::Arg) -> Option<String> {
    if arg.is_hide_set() {
        return None;
    }
    let mut names = Vec::new();
    if let Some(s) = arg.get_short() {
        names.push(format!("\\fB\\-{s}\\fR"));
    }
    if let Some(l) = arg.get_long() {
        names.push(format!("\\fB\\-\\-{}\\fR", esc(l)));
    }
    let takes_value = arg.get_num_args().map(|n| n.takes_values()).unwrap_or(false);
    let value = if takes_value {
        let v = arg.get_value_names().map(|v| v.join(" ")).unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
        format!(" \\fI{}\\fR", esc(&v))
    } else {
        String::new()
    };
    let head = if names.is_empty() {
        // positional
        format!("\\fI{}\\fR", esc(&arg.get_value_names().map(|v| v.join(" ")).unwrap_or_else(|| arg.get_id().to_string())))
    } else {
        format!("{}{}", names.join(", "), value)
    };
    let mut help = arg.get_long_help().or(arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
    let defaults: Vec<String> = arg.get_default_values().iter().map(|d| d.to_string_lossy().into_owned()).collect();
    if !defaults.is_empty() && takes_value {
        help.push_str(&format!(" [default: {}]", defaults.join(", ")));
    }
    let possible: Vec<String> = arg.get_possible_values().iter().filter(|p| !p.is_hide_set()).map(|p| p.get_name().to_string()).collect();
    if !possible.is_empty() && takes_value {
        help.push_str(&format!(" [possible values: {}]", possible.join(", ")));
    }
    Some(format!(".TP\n{head}\n{}\n", esc(&help)))
}

fn options(cmd: &Command) -> String {
    let mut s = String::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        if let Some(line) = arg_line(arg) {
            s.push_str(&line);
        }
    }
    s
}

fn synopsis(cmd: &Command, prefix: &str) -> String {
    let mut s = format!("\\fB{}\\fR", esc(prefix));
    for arg in cmd.get_positionals() {
        let name = arg.get_value_names().map(|v| v.join(" ")).unwrap_or_else(|| arg.get_id().to_string().to_uppercase());
        if arg.is_required_set() {
            s.push_str(&format!(" \\fI{}\\fR", esc(&name)));
        } else {
            s.push_str(&format!(" [\\fI{}\\fR]", esc(&name)));
        }
    }
    if cmd.get_arguments().any(|a| a.get_long().is_some() && !matches!(a.get_id().as_str(), "help" | "version")) {
        s.push_str(" [\\fIOPTIONS\\fR]");
    }
    s
}

/// Renders the man page of one tool.
pub fn render_man(cmd: &Command) -> String {
    let mut cmd = cmd.clone();
    cmd.build();
    let name = cmd.get_name().to_string();
    let version = cmd.get_version().unwrap_or("").to_string();
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let long = cmd.get_long_about().map(|a| a.to_string()).unwrap_or_else(|| about.clone());
    let mut m = String::new();
    let _ = writeln!(m, ".TH {} {SECTION} \"\" \"kvmfi {version}\" \"kvmfi manual\"", name.to_uppercase().replace('-', "\\-"));
    let _ = writeln!(m, ".SH NAME\n{} \\- {}", esc(&name), esc(&about));
    let _ = writeln!(m, ".SH SYNOPSIS");
    let subs: Vec<&Command> = cmd.get_subcommands().filter(|s| s.get_name() != "help" && !s.is_hide_set()).collect();
    if subs.is_empty() {
        let _ = writeln!(m, "{}", synopsis(&cmd, &name));
    } else {
        for sub in &subs {
            let _ = writeln!(m, "{}\n.br", synopsis(sub, &format!("{name} {}", sub.get_name())));
        }
    }
    let _ = writeln!(m, ".SH DESCRIPTION");
    for para in long.split("\n\n") {
        let _ = writeln!(m, ".PP\n{}", esc(para));
    }
    if !subs.is_empty() {
        let _ = writeln!(m, ".SH COMMANDS");
        for sub in &subs {
            let sabout = sub.get_long_about().or(sub.get_about()).map(|a| a.to_string()).unwrap_or_default();
            let _ = writeln!(m, ".TP\n\\fB{}\\fR\n{}", esc(sub.get_name()), esc(&sabout));
            let opts = options(sub);
            if !opts.is_empty() {
                let _ = writeln!(m, ".RS\n{}.RE", opts);
            }
        }
    }
    let top = options(&cmd);
    if !top.is_empty() {
        let _ = writeln!(m, ".SH OPTIONS\n{top}");
    }
    if let Some(after) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        let text = after.to_string();
        let mut section: Option<String> = None;
        let mut body = String::new();
        let flush = |m: &mut String, section: &Option<String>, body: &str| {
            if let Some(h) = section {
                let _ = writeln!(m, ".SH {}", esc(h));
                for line in body.lines() {
                    if let Some(ex) = line.strip_prefix("  ") {
                        let _ = writeln!(m, ".PP\n.nf\n{}\n.fi", esc(ex.trim_start()));
                    } else if !line.trim().is_empty() {
                        let _ = writeln!(m, ".PP\n{}", esc(line.trim()));
                    }
                }
            }
        };
        for line in text.lines() {
            let heading = line.split_once(':').filter(|(h, _)| {
                !h.is_empty() && h.chars().all(|c| c.is_ascii_uppercase() || c == ' ') && !line.starts_with(' ')
            });
            if let Some((h, rest)) = heading {
                flush(&mut m, &section, &body);
                section = Some(h.to_string());
                body = rest.trim().to_string();
                body.push('\n');
            } else {
                body.push_str(line);
                body.push('\n');
            }
        }
        flush(&mut m, &section, &body);
    }
    let _ = writeln!(m, ".SH SEE ALSO\nkvmfi(7), kvmfi\\-check(8)");
    m
}

/// File name of a tool's man page.
pub fn man_file(cmd: &Command) -> String {
    format!("{}.{SECTION}", cmd.get_name())
}
