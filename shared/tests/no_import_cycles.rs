//! No two files of shared/src depend on each other in a loop, directly or
//! through others. A file depends on the files whose items it names by path
//! (`crate::a::b`, `super::x`, `self::y`, in `use` lines or inline) and on
//! the child modules it declares (`mod x;`). lib.rs is the root that only
//! declares and re-exports, so it is no node of the graph; a path through one
//! of its re-exported former names (`crate::procs`, `crate::netfault`) fails
//! the test, since it would hide an edge: inside the crate, use the real path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Loops known and not yet undone, each (from, to) edge left out of the
/// graph. KEEP THIS EMPTY: an entry is a debt, to be paid by moving what
/// both files need into a third one.
const KNOWN_LOOPS: &[(&str, &str)] = &[];

/// Module path (segments under the crate root) of a source file.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut segs: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into_owned()).collect();
    if segs.last().map(String::as_str) == Some("mod") || segs == ["lib"] {
        segs.pop();
    }
    segs
}

/// The file of module `segs`, if it is a file of its own.
fn file_of(src: &Path, segs: &[String]) -> Option<PathBuf> {
    if segs.is_empty() {
        return Some(src.join("lib.rs"));
    }
    let base: PathBuf = segs.iter().collect();
    [src.join(&base).with_extension("rs"), src.join(&base).join("mod.rs")].into_iter().find(|p| p.is_file())
}

/// The source without comments and without its `#[cfg(test)]` module
/// (whose `super::*` means the file itself).
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Paths (as segment lists) that start at `i` of `s`, expanding `{a, b::c}`.
fn paths_at(s: &[char], mut i: usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let mut segs = prefix;
    loop {
        while i < s.len() && s[i].is_whitespace() {
            i += 1;
        }
        if i < s.len() && s[i] == '{' {
            i += 1;
            loop {
                while i < s.len() && (s[i].is_whitespace() || s[i] == ',') {
                    i += 1;
                }
                if i >= s.len() || s[i] == '}' {
                    return i + 1;
                }
                i = paths_at(s, i, segs.clone(), out);
                // skip `as name`
                while i < s.len() && s[i] != ',' && s[i] != '}' {
                    i += 1;
                }
            }
        }
        let start = i;
        while i < s.len() && is_ident(s[i]) {
            i += 1;
        }
        if start == i {
            break;
        }
        segs.push(s[start..i].iter().collect());
        if i + 1 < s.len() && s[i] == ':' && s[i + 1] == ':' {
            i += 2;
        } else {
            break;
        }
    }
    // A `#[macro_export]` macro lives at the crate root whatever file defines it.
    if s.get(i) != Some(&'!') {
        out.push(segs);
    }
    i
}

#[test]
fn no_two_files_of_shared_import_each_other_in_a_loop() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let lib = src.join("lib.rs");
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    let mut through_lib = Vec::new();
    let mut known_seen = BTreeSet::new();
    for f in files.iter().filter(|f| **f != lib) {
        let here = module_of(&src, f);
        let text = code(&std::fs::read_to_string(f).unwrap());
        let chars: Vec<char> = text.chars().collect();
        let mut paths = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let word_start = i == 0 || !is_ident(chars[i - 1]);
            let rest: String = chars[i..chars.len().min(i + 7)].iter().collect();
            if word_start && (rest.starts_with("crate::") || rest.starts_with("super::") || rest.starts_with("self::")) {
                let mut raw = Vec::new();
                i = paths_at(&chars, i, Vec::new(), &mut raw);
                paths.extend(raw);
            } else {
                i += 1;
            }
        }
        // `mod x;` declarations: the parent depends on its children.
        for line in text.lines() {
            let l = line.trim().trim_start_matches("pub(crate) ").trim_start_matches("pub ");
            if let Some(name) = l.strip_prefix("mod ").and_then(|r| r.strip_suffix(';')) {
                let mut p = vec!["self".to_string()];
                p.push(name.trim().to_string());
                paths.push(p);
            }
        }
        for p in paths {
            // The module the path starts from.
            let mut base = here.clone();
            let mut it = p.into_iter().peekable();
            match it.next().as_deref() {
                Some("crate") => base.clear(),
                Some("super") => {
                    base.pop();
                    while it.peek().map(String::as_str) == Some("super") {
                        it.next();
                        base.pop();
                    }
                }
                _ => {} // self
            }
            let rest: Vec<String> = it.collect();
            let mut m = base.clone();
            for seg in &rest {
                let mut next = m.clone();
                next.push(seg.clone());
                if file_of(&src, &next).is_some() {
                    m = next;
                } else {
                    break;
                }
            }
            let target = file_of(&src, &m).unwrap();
            if target == lib {
                // Only the root's own items (Result, Error) may be named there.
                if rest.first().is_some_and(|s| s.starts_with(|c: char| c.is_ascii_lowercase())) && m.is_empty() {
                    through_lib.push(format!("{}: crate::{}", f.display(), rest.join("::")));
                }
                continue;
            }
            let known = KNOWN_LOOPS.iter().position(|(a, b)| *f == src.join(a) && target == src.join(b));
            if let Some(k) = known {
                known_seen.insert(k);
            } else if target != *f {
                edges.entry(f.clone()).or_default().insert(target);
            }
        }
    }
    assert!(through_lib.is_empty(), "paths through lib.rs re-exports (use the real module path):\n{}", through_lib.join("\n"));
    // Depth-first search for a back edge.
    fn visit(
        n: &PathBuf,
        edges: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        state: &mut BTreeMap<PathBuf, u8>,
        stack: &mut Vec<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        state.insert(n.clone(), 1);
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|x| x == m).unwrap();
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(m.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    let nodes: Vec<PathBuf> = edges.keys().cloned().collect();
    for n in &nodes {
        if state.get(n).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, &edges, &mut state, &mut Vec::new()) {
                let names: Vec<String> =
                    c.iter().map(|p| p.strip_prefix(&src).unwrap().display().to_string()).collect();
                panic!("import loop: {}", names.join(" -> "));
            }
        }
    }
    // A known loop that is gone must leave the list.
    for (k, (a, b)) in KNOWN_LOOPS.iter().enumerate() {
        let back = edges.get(&src.join(b)).is_some_and(|s| s.contains(&src.join(a)));
        assert!(known_seen.contains(&k) && back, "{a} -> {b} is no loop any more: remove it from KNOWN_LOOPS");
    }
    // The graph is not empty by mistake: the journal's store depends on
    // the undo steps' trait, the undo steps on the host layer.
    let has = |a: &str, b: &str| edges.get(&src.join(a)).is_some_and(|s| s.contains(&src.join(b)));
    assert!(has("journal/store.rs", "undo/action.rs"));
    assert!(has("undo/firewall.rs", "host/firewall.rs"));
    assert!(has("injector/netem.rs", "journal/mod.rs"));
}
