//! The parts of OpenSSH's client configuration (`~/.ssh/config`) that the
//! ssh2 connection can honour: HostName, User, Port and IdentityFile, by
//! `Host` patterns (`*`, `?`, `!negated`), first value wins (IdentityFile
//! adds up), `Include` with `*` in the file name. `Match` blocks are not
//! evaluated: their lines are skipped (OpenSSH's own ssh, used by
//! cluster_manage.sh, applies them).

use std::path::{Path, PathBuf};

/// What the configuration says for one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    pub hostname: Option<String>,
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_files: Vec<PathBuf>,
}

/// One `Host` block (the lines before the first block have pattern `*`).
#[derive(Debug, Clone, Default)]
struct Block {
    patterns: Vec<String>,
    /// A `Match` block: never applied.
    skip: bool,
    /// Keyword (lower case), value, in file order.
    settings: Vec<(String, String)>,
}

/// A parsed configuration file (and the files it includes).
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    blocks: Vec<Block>,
}

/// `*` and `?` wildcards, as ssh's match_pattern.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// `~/x` -> $HOME/x.
pub fn tilde(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(path),
    }
}

/// Words of a value: whitespace-separated, double quotes group.
fn words(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

impl SshConfig {
    /// Reads `path`; a missing file is an empty configuration. Errors name
    /// the file and line.
    pub fn load(path: &Path) -> Result<SshConfig, String> {
        let mut c = SshConfig { blocks: vec![Block { patterns: vec!["*".into()], ..Block::default() }] };
        c.read(path, 0)?;
        Ok(c)
    }

    fn read(&mut self, path: &Path, depth: usize) -> Result<(), String> {
        if depth > 8 {
            return Err(format!("{}: Include nested too deep", path.display()));
        }
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth == 0 => return Ok(()),
            Err(e) => return Err(format!("cannot read ssh config {}: {e}", path.display())),
        };
        for (i, raw) in text.lines().enumerate() {
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let split = l.find(|c: char| c.is_whitespace() || c == '=').unwrap_or(l.len());
            let key = l[..split].to_ascii_lowercase();
            let value = l[split..].trim_start().trim_start_matches('=').trim();
            match key.as_str() {
                "host" => {
                    let patterns = words(value);
                    if patterns.is_empty() {
                        return Err(format!("{}: line {}: Host needs a pattern", path.display(), i + 1));
                    }
                    self.blocks.push(Block { patterns, ..Block::default() });
                }
                "match" => self.blocks.push(Block { skip: true, ..Block::default() }),
                "include" => {
                    for w in words(value) {
                        let p = tilde(&w);
                        let p = if p.is_absolute() { p } else { home().unwrap_or_default().join(".ssh").join(p) };
                        for f in glob(&p) {
                            self.read(&f, depth + 1)?;
                        }
                    }
                }
                _ => {
                    if let Some(b) = self.blocks.last_mut() {
                        b.settings.push((key, value.to_string()));
                    }
                }
            }
        }
        Ok(())
    }

    /// The settings for `host` (the name as given, before HostName).
    pub fn for_host(&self, host: &str) -> HostConfig {
        let mut hc = HostConfig::default();
        for b in &self.blocks {
            if b.skip || !matches(&b.patterns, host) {
                continue;
            }
            for (k, v) in &b.settings {
                let first = words(v).into_iter().next().unwrap_or_default();
                match k.as_str() {
                    "hostname" if hc.hostname.is_none() => hc.hostname = Some(first.replace("%h", host)),
                    "user" if hc.user.is_none() => hc.user = Some(first),
                    "port" if hc.port.is_none() => hc.port = first.parse().ok().filter(|p| *p > 0),
                    "identityfile" => {
                        let p = tilde(&first.replace("%h", host));
                        if !hc.identity_files.contains(&p) {
                            hc.identity_files.push(p);
                        }
                    }
                    _ => {}
                }
            }
        }
        hc
    }
}

/// OpenSSH's Host matching: some positive pattern matches and no negated one.
fn matches(patterns: &[String], host: &str) -> bool {
    let mut hit = false;
    for p in patterns {
        if let Some(neg) = p.strip_prefix('!') {
            if wildcard(neg, host) {
                return false;
            }
        } else if wildcard(p, host) {
            hit = true;
        }
    }
    hit
}

/// The files a path with `*`/`?` in its last component names, sorted.
fn glob(p: &Path) -> Vec<PathBuf> {
    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.contains(['*', '?']) {
        return vec![p.to_path_buf()];
    }
    let dir = p.parent().unwrap_or(Path::new("."));
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| wildcard(&name, &e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_wins_identities_add_up() {
        let d = tempfile::tempdir().unwrap();
        let inc = d.path().join("fleet.conf");
        std::fs::write(&inc, "Host node-*\n  User ops\n  IdentityFile /k/fleet\n").unwrap();
        let main = d.path().join("config");
        std::fs::write(
            &main,
            format!(
                "# top\nIdentityFile /k/top\nInclude {}\nHost node-7 !node-8\n  HostName=10.0.0.%h\n  Port 2222\n  User first\n\
                 Match host node-7\n  User never\nHost *\n  User last\n  Port 22\n",
                d.path().join("f*.conf").display()
            ),
        )
        .unwrap();
        let c = SshConfig::load(&main).unwrap();
        let h = c.for_host("node-7");
        assert_eq!(h.user.as_deref(), Some("ops"));
        assert_eq!(h.hostname.as_deref(), Some("10.0.0.node-7"));
        assert_eq!(h.port, Some(2222));
        assert_eq!(h.identity_files, [PathBuf::from("/k/top"), PathBuf::from("/k/fleet")]);
        let h8 = c.for_host("node-8");
        assert_eq!((h8.hostname, h8.port, h8.user.as_deref()), (None, Some(22), Some("ops")));
        let other = c.for_host("db1");
        assert_eq!(other.user.as_deref(), Some("last"));
        assert!(SshConfig::load(&d.path().join("missing")).unwrap().for_host("x").user.is_none());
    }

    #[test]
    fn wildcards() {
        assert!(wildcard("*", "a"));
        assert!(wildcard("10.0.?.*", "10.0.3.44"));
        assert!(!wildcard("10.0.?.*", "10.0.33.44"));
        assert!(wildcard("A*b", "axxB"));
        assert!(!wildcard("a", "ab"));
    }
}
