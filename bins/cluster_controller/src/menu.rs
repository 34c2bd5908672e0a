//! The original interactive menu, as a thin layer over [`crate::ops`] and
//! [`crate::scenario`]: it only asks, checks the answers and calls them.
//!
//! Input is read line by line from standard input with read(2) directly,
//! so Ctrl-C (caught by [`crate::interrupt`]) interrupts a prompt: in a
//! submenu it goes back, at the main menu it quits. An action in progress
//! always completes (its remote commands are bounded by the timeouts), and
//! a scenario waiting to be healed is healed first.

use crate::ops::{self, Outcome};
use crate::scenario::{self, Name};
use crate::target::Spec;
use crate::{interrupt, Ctx, InjTool};
use kvmfi::Result;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// One answer from the user.
#[derive(Debug, PartialEq, Eq)]
pub enum Input {
    /// A line, trimmed.
    Line(String),
    /// Ctrl-C.
    Interrupt,
    /// End of input (Ctrl-D, or a closed pipe).
    Eof,
}

fn flush() {
    let _ = std::io::stdout().flush();
}

/// Reads one line from fd 0; EINTR (Ctrl-C) is reported, not retried.
pub fn read_line() -> Input {
    let mut line = Vec::new();
    loop {
        let mut b = [0u8; 1];
        // SAFETY: reading one byte into a valid one-byte buffer.
        let n = unsafe { libc::read(0, b.as_mut_ptr().cast(), 1) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                if interrupt::take() {
                    return Input::Interrupt;
                }
                continue;
            }
            return Input::Eof;
        }
        if n == 0 {
            return if line.is_empty() { Input::Eof } else { Input::Line(String::from_utf8_lossy(&line).trim().to_string()) };
        }
        if b[0] == b'\n' {
            return Input::Line(String::from_utf8_lossy(&line).trim().to_string());
        }
        if line.len() < 4096 {
            line.push(b[0]);
        }
    }
}

/// Prints `prompt` and reads the answer.
pub fn ask(prompt: &str) -> Input {
    if interrupt::take() {
        // Ctrl-C while an action ran: it was let finish; nothing else to do.
        println!("(Ctrl-C came while the action ran; it was completed, not cut short)");
    }
    print!("{prompt}");
    flush();
    let a = read_line();
    if a != Input::Eof && !matches!(a, Input::Line(_)) {
        println!();
    }
    a
}

/// Waits for Enter (or Ctrl-C / end of input).
pub fn pause(prompt: &str) {
    let _ = ask(prompt);
}

/// Where a submenu goes next.
enum Flow {
    Stay,
    Back,
    Quit,
}

/// The menu loop.
pub fn run(ctx: &mut Ctx) -> Result<()> {
    interrupt::install();
    println!("kvmfi cluster controller: fault injection across the cluster over SSH");
    loop {
        println!();
        println!("=== Cluster fault injection ===");
        println!("Cluster: {} node(s) from {}", ctx.nodes.len(), ctx.source);
        for n in &ctx.nodes {
            println!("  {:<12} {}:{}  {}", n.name, n.address, n.port, n.roles.join(","));
        }
        println!("  [1] VM fault injection");
        println!("  [2] Hadoop fault injection");
        println!("  [3] CloudStack fault injection");
        println!("  [4] Preset fault scenarios");
        println!("  [5] Cluster status");
        println!("  [6] Recover everything");
        println!("  [7] Load cluster configuration");
        println!("  [q] Quit");
        let choice = match ask("Choice: ") {
            Input::Line(l) => l,
            Input::Interrupt | Input::Eof => {
                println!("Leaving. Faults in force stay until [6] or 'cluster_controller recover'.");
                return Ok(());
            }
        };
        let flow = match choice.as_str() {
            "1" => vm_menu(ctx),
            "2" => hadoop_menu(ctx),
            "3" => cloudstack_menu(ctx),
            "4" => scenario_menu(ctx),
            "5" => {
                act(ops::status(ctx, &[]));
                Flow::Stay
            }
            "6" => {
                act(ops::recover(ctx, &[]));
                Flow::Stay
            }
            "7" => load(ctx),
            "q" | "Q" | "quit" | "exit" => {
                println!("Bye. Faults in force stay until [6] or 'cluster_controller recover'.");
                return Ok(());
            }
            "" => Flow::Stay,
            other => {
                println!("'{other}' is not a choice: type 1 to 7, or q to quit.");
                Flow::Stay
            }
        };
        if let Flow::Quit = flow {
            println!("Leaving. Faults in force stay until [6] or 'cluster_controller recover'.");
            return Ok(());
        }
    }
}

/// Shows how an action ended.
fn act(r: Result<Outcome>) {
    match r {
        Ok(o) if o.ok() => println!("Done: {} node(s), all ok.", o.nodes),
        Ok(o) => println!(
            "Done with problems: {} node(s), {} failed, {} unreachable (see above).",
            o.nodes, o.failed, o.unreachable
        ),
        Err(e) => println!("Not done: {e}"),
    }
}

/// A submenu: prints `items` (number, text), reads a choice; 0 goes back.
fn choose(title: &str, items: &[&str]) -> std::result::Result<usize, Flow> {
    loop {
        println!();
        println!("--- {title} ---");
        for (i, t) in items.iter().enumerate() {
            println!("  [{}] {t}", i + 1);
        }
        println!("  [0] Back");
        match ask("Choice: ") {
            Input::Interrupt => return Err(Flow::Back),
            Input::Eof => return Err(Flow::Quit),
            Input::Line(l) if l == "0" || l.eq_ignore_ascii_case("b") => return Err(Flow::Back),
            Input::Line(l) if l.eq_ignore_ascii_case("q") => return Err(Flow::Quit),
            Input::Line(l) => match l.parse::<usize>() {
                Ok(n) if (1..=items.len()).contains(&n) => return Ok(n - 1),
                _ => println!("'{l}' is not a choice: type 1 to {}, or 0 to go back.", items.len()),
            },
        }
    }
}

/// A submenu: shows `items` under `title` until the user goes back or
/// quits, handing each choice to `pick`.
fn submenu(ctx: &mut Ctx, title: &str, items: &[&str], mut pick: impl FnMut(&mut Ctx, usize)) -> Flow {
    loop {
        match choose(title, items) {
            Ok(i) => pick(ctx, i),
            Err(f) => return f,
        }
    }
}

/// Asks a free-text value; `check` turns it into T or says what is wrong.
/// Empty input takes `default` when there is one. None: the user backed out.
fn ask_value<T>(prompt: &str, default: Option<&str>, check: impl Fn(&str) -> std::result::Result<T, String>) -> Option<T> {
    loop {
        let text = match ask(prompt) {
            Input::Line(l) if l == "0" => return None,
            Input::Line(l) if l.is_empty() => match default {
                Some(d) => d.to_string(),
                None => {
                    println!("A value is needed (0 goes back).");
                    continue;
                }
            },
            Input::Line(l) => l,
            Input::Interrupt | Input::Eof => return None,
        };
        match check(&text) {
            Ok(v) => return Some(v),
            Err(e) => println!("{e} (0 goes back)"),
        }
    }
}

/// Asks for a whole number in `range`; Enter = `default`.
fn ask_number(prompt: &str, default: &str, range: std::ops::RangeInclusive<u32>) -> Option<u32> {
    ask_value(prompt, Some(default), |t| match t.parse::<u32>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!("'{t}': give {} to {}", range.start(), range.end())),
    })
}

/// Asks which nodes: Enter = `default`, or a target spec.
fn ask_targets(ctx: &mut Ctx, what: &str, default: &Spec) -> Option<Vec<Spec>> {
    let shown = match default {
        Spec::All => "every node".to_string(),
        Spec::Role(r) => format!("every {r}"),
        Spec::Random(r) => format!("one random {r}"),
        other => format!("{other:?}"),
    };
    let nodes = ctx.nodes.clone();
    ask_value(
        &format!("{what} on which nodes? [Enter = {shown}; or a name, all, role:ROLE, random:ROLE, minority, majority]: "),
        Some("\u{0}"),
        |t| {
            if t == "\u{0}" {
                return Ok(vec![default.clone()]);
            }
            let s = crate::target::parse(t)?;
            // Check names and roles now, so the user can fix them here.
            let mut probe = rand::rngs::mock::StepRng::new(0, 1);
            crate::target::select(&nodes, std::slice::from_ref(&s), default, &mut probe).map_err(|e| e.to_string())?;
            Ok(vec![s])
        },
    )
}

fn ip(t: &str) -> std::result::Result<String, String> {
    kvmfi::netfault::parse_ip(t).map(|a| a.to_string())
}

/// Runs `tool args` on nodes the user picks (default by role).
/// Asks for the nodes (offering the ones the command is meant for) and runs
/// the injector command there.
fn run_inject(ctx: &mut Ctx, tool: InjTool, args: &[&str], what: &str) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    inject_at(ctx, what, &ops::default_inject_target(tool, &args), tool, &args);
}

/// Asks for the nodes, offering `default`, and runs the injector command there.
fn inject_at(ctx: &mut Ctx, what: &str, default: &Spec, tool: InjTool, args: &[String]) {
    let Some(specs) = ask_targets(ctx, what, default) else { return };
    act(ops::inject(ctx, &specs, tool, args));
}

fn vm_menu(ctx: &mut Ctx) -> Flow {
    let items = [
        "Kill the QEMU process of a VM (SIGKILL; recover starts it again)",
        "Freeze a VM (SIGSTOP of QEMU)",
        "Resume a frozen VM (SIGCONT)",
        "Network delay on a KVM host",
        "Network packet loss on a KVM host",
        "Clear the network delay / loss",
    ];
    submenu(ctx, "VM fault injection (on KVMHost nodes)", &items, |ctx, i| {
        let name = ask_value("QEMU process name [Enter = qemu-system-x86_64]: ", Some("qemu-system-x86_64"), |t| {
            kvmfi::cliparse::plain_word(t, usize::MAX, "-_.", "a process name")
        });
        let a: Vec<String> = match i {
            0..=2 => {
                let Some(name) = name else { return };
                let verb = ["crash", "hang", "resume"][i];
                vec![verb.into(), "--name".into(), name]
            }
            3 => {
                let Some(ms) = ask_number("Delay in milliseconds [Enter = 100]: ", "100", 1..=60000) else { return };
                vec!["delay".into(), ms.to_string()]
            }
            4 => {
                let Some(p) = ask_number("Loss in percent [Enter = 10]: ", "10", 1..=100) else { return };
                vec!["loss".into(), p.to_string()]
            }
            _ => vec!["clear".into()],
        };
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_inject(ctx, InjTool::Vm, &refs, items[i]);
    })
}

/// The menu of an injector: its first six items crash, hang and resume its
/// two daemons (`daemons`: how the menu names each, what the injector calls
/// it), `more` follow them and `pick_more` runs one (its index in `more`).
fn injector_menu(
    ctx: &mut Ctx,
    title: &str,
    tool: InjTool,
    daemons: [(&str, &str); 2],
    more: &[&str],
    mut pick_more: impl FnMut(&mut Ctx, usize, &str),
) -> Flow {
    const VERBS: [(&str, &str); 3] = [("Crash", "crash"), ("Hang", "hang"), ("Resume", "resume")];
    let mut items: Vec<String> = VERBS.iter().flat_map(|(verb, _)| daemons.map(|(name, _)| format!("{verb} {name}"))).collect();
    let own = items.len();
    items.extend(more.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    submenu(ctx, title, &refs, |ctx, i| match i.checked_sub(own) {
        None => run_inject(ctx, tool, &[VERBS[i / 2].1, daemons[i % 2].1], refs[i]),
        Some(j) => pick_more(ctx, j, more[j]),
    })
}

fn hadoop_menu(ctx: &mut Ctx) -> Flow {
    let more = [
        "HDFS safe mode: enter",
        "HDFS safe mode: leave",
        "Network: block an IP",
        "Network: clear the block of an IP",
        "List the Hadoop daemons",
    ];
    let daemons = [("the NameNode", "nn"), ("a DataNode", "dn")];
    injector_menu(ctx, "Hadoop fault injection", InjTool::Hadoop, daemons, &more, |ctx, i, what| match i {
        0 | 1 => {
            let action = if i == 0 { "enter" } else { "leave" };
            let namenode = Spec::Role("NameNode".into());
            inject_at(ctx, what, &namenode, InjTool::Hadoop, &["hdfs-safe".into(), action.into()]);
        }
        2 | 3 => {
            let Some(addr) = ask_value("Which IP address? ", None, ip) else { return };
            let verb = if i == 2 { "network" } else { "network-clear" };
            inject_at(ctx, what, &Spec::All, InjTool::Hadoop, &[verb.into(), addr]);
        }
        _ => inject_at(ctx, what, &Spec::All, InjTool::Hadoop, &["list".into()]),
    })
}

fn cloudstack_menu(ctx: &mut Ctx) -> Flow {
    let more = [
        "API delay",
        "Clear the API delay",
        "Limit database connections",
        "Restore database connections",
        "List the CloudStack daemons",
    ];
    let daemons = [("the management server", "ms"), ("an agent", "agent")];
    let ms_nodes = Spec::Role("ManagementServer".into());
    injector_menu(ctx, "CloudStack fault injection", InjTool::Cloudstack, daemons, &more, |ctx, i, what| match i {
        0 => {
            let Some(ms) = ask_number("Delay in milliseconds [Enter = 500]: ", "500", 1..=60000) else { return };
            inject_at(ctx, what, &ms_nodes, InjTool::Cloudstack, &["api-delay".into(), ms.to_string()]);
        }
        1 | 3 => {
            let verb = if i == 1 { "api-delay-clear" } else { "db-restore" };
            inject_at(ctx, what, &ms_nodes, InjTool::Cloudstack, &[verb.into()]);
        }
        2 => {
            let Some(n) = ask_number("Connections per cloud account [Enter = 1]: ", "1", 1..=100000) else { return };
            let args = ["db-limit".into(), "--user-connections".into(), n.to_string()];
            inject_at(ctx, what, &ms_nodes, InjTool::Cloudstack, &args);
        }
        _ => inject_at(ctx, what, &Spec::All, InjTool::Cloudstack, &["list".into()]),
    })
}

fn scenario_menu(ctx: &mut Ctx) -> Flow {
    let items: Vec<String> = scenario::ALL.iter().map(|(_, n, a)| format!("{n}: {a}")).collect();
    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
    submenu(ctx, "Preset fault scenarios", &refs, |ctx, i| {
        let name: Name = scenario::ALL[i].0;
        let Some(duration) = ask_value(
            "Heal after how long? [e.g. 30s, 2m; Enter = when you press Enter]: ",
            Some("0"),
            kvmfi::units::parse_duration,
        ) else {
            return;
        };
        let what = if name == Name::NamenodeCrash { "crash the NameNode" } else { "start" };
        match ask(&format!("Press Enter to {what} ({}), 0 to go back: ", scenario::name_of(name))) {
            Input::Line(l) if l.is_empty() => {}
            _ => return,
        }
        let opts = scenario::Opts {
            duration: if duration == Duration::ZERO { None } else { Some(duration) },
            delay_ms: 500,
            wait_enter: true,
        };
        act(scenario::run(ctx, name, &[], &opts));
    })
}

fn load(ctx: &mut Ctx) -> Flow {
    let Some(path) = ask_value("Cluster file [Enter = cluster.conf]: ", Some("cluster.conf"), |t| Ok::<_, String>(t.to_string()))
    else {
        return Flow::Stay;
    };
    match ctx.reload(Path::new(&path)) {
        Ok(()) => println!("Loaded {} node(s) from {path}.", ctx.nodes.len()),
        Err(e) => println!("Not loaded (the previous nodes stay): {e}"),
    }
    Flow::Stay
}
