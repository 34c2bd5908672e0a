//! `cluster.conf`: the nodes of a cluster, one a line, in the original
//! tools' format `name,address,ssh_port,role[,role...]`.
//!
//! Blank lines and everything from a `#` on are ignored. Fields are
//! trimmed. Every line is checked, and an error names its line number:
//! - `name`: letters, digits, `.`, `_`, `-`; unique in the file;
//! - `address`: an IPv4/IPv6 address or a host name; `address:port` unique;
//! - `ssh_port`: 1 to 65535;
//! - at least one role, each one of [`ROLES`] (any letter case; stored in
//!   the canonical spelling; a role named twice counts once).
//!
//! Unlike the original controller, every role of a line is kept (it kept
//! only the first).
//!
//! One setting line may name the known_hosts file the nodes' host keys are
//! checked against: `known_hosts = PATH`.
//!
//! [`load`] also reads Ansible inventories (INI or YAML; see [`ansible`]), so
//! every tool that takes a cluster.conf takes an inventory too.

pub mod ansible;
mod node;

pub use node::{canonical_role, ConfError, Node, CLOUDSTACK_ROLES, HADOOP_ROLES, ROLES};
use node::{valid_host, valid_name};

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The original controller's built-in cluster (used when no cluster.conf
/// is found).
pub const DEFAULT_CONF: &str = "\
master,192.168.64.10,22,NameNode,ResourceManager,SecondaryNameNode
slave1,192.168.64.11,22,DataNode,NodeManager
slave2,192.168.64.12,22,DataNode,NodeManager
";

/// A cluster file: its nodes and its settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    /// `known_hosts = PATH`: host keys are checked against this file too
    /// (and new ones recorded there).
    pub known_hosts: Option<String>,
}

/// Parses the text of a cluster.conf. Never panics, whatever the input.
pub fn parse(text: &str) -> std::result::Result<Vec<Node>, ConfError> {
    parse_cluster(text).map(|c| c.nodes)
}

/// Parses a cluster.conf, its setting lines included.
pub fn parse_cluster(text: &str) -> std::result::Result<Cluster, ConfError> {
    let mut nodes: Vec<Node> = Vec::new();
    let mut known_hosts = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |msg: String| ConfError { line, msg };
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        if let Some((key, value)) = content.split_once('=').filter(|(k, _)| !k.contains(',')) {
            match key.trim() {
                "known_hosts" if !value.trim().is_empty() => known_hosts = Some(value.trim().to_string()),
                "known_hosts" => return Err(err("known_hosts = needs a path (e.g. known_hosts = /etc/kvmfi/known_hosts)".into())),
                k => return Err(err(format!("unknown setting '{k}'; the only setting is known_hosts = PATH"))),
            }
            continue;
        }
        let fields: Vec<&str> = content.split(',').map(str::trim).collect();
        if fields.len() < 4 {
            return Err(err(format!(
                "'{content}' has {} field(s); write name,address,ssh_port,role[,role...] \
                 (e.g. slave1,192.168.64.11,22,DataNode,NodeManager)",
                fields.len()
            )));
        }
        let (name, address, port) = (fields[0], fields[1], fields[2]);
        if !valid_name(name) {
            return Err(err(format!(
                "node name '{name}' is not valid; use letters, digits, '.', '_' and '-' (at most 64)"
            )));
        }
        if let Some(other) = nodes.iter().find(|n| n.name == name) {
            return Err(err(format!("node name '{name}' is already used on line {}", other.line)));
        }
        if !valid_host(address) {
            return Err(err(format!("'{address}' is neither an IP address nor a host name")));
        }
        let port: u16 = match port.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => p as u16,
            _ => return Err(err(format!("ssh port '{port}' must be a number from 1 to 65535"))),
        };
        if let Some(other) = nodes.iter().find(|n| n.address == address && n.port == port) {
            return Err(err(format!(
                "{address} port {port} is already node '{}' (line {})",
                other.name, other.line
            )));
        }
        let mut roles: Vec<String> = Vec::new();
        for r in &fields[3..] {
            let Some(c) = canonical_role(r) else {
                let shown = if r.is_empty() { "(empty)".to_string() } else { format!("'{r}'") };
                return Err(err(format!("unknown role {shown}; roles are {}", ROLES.join(", "))));
            };
            if !roles.iter().any(|x| x == c) {
                roles.push(c.to_string());
            }
        }
        nodes.push(Node {
            name: name.to_string(),
            address: address.to_string(),
            port,
            roles,
            line,
            user: None,
            port_given: true,
        });
    }
    Ok(Cluster { nodes, known_hosts })
}

/// Reads and parses `path`; errors (exit 2) say `PATH: line N: ...`.
/// A file with no node in it is an error too. Ansible inventories are
/// recognised by their content (see [`ansible::detect`]).
pub fn load(path: &Path) -> Result<Vec<Node>> {
    load_cluster(path).map(|c| c.nodes)
}

/// [`load`] with the file's settings.
pub fn load_cluster(path: &Path) -> Result<Cluster> {
    let bytes = std::fs::read(path).map_err(|e| Error::usage(format!("cannot read {}: {e}", path.display())))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|&&b| b == b'\n').count();
        Error::usage(format!("{}: line {line}: not UTF-8 text", path.display()))
    })?;
    let parsed = match ansible::detect(path, &text) {
        Some(kind) => ansible::parse(&text, kind).map(|nodes| Cluster { nodes, known_hosts: None }),
        None => parse_cluster(&text),
    };
    let cluster = parsed.map_err(|e| Error::usage(format!("{}: {e}", path.display())))?;
    if cluster.nodes.is_empty() {
        return Err(Error::usage(format!(
            "{}: no node in it; add lines name,address,ssh_port,role[,role...] (or hosts to an Ansible inventory's role groups)",
            path.display()
        )));
    }
    Ok(cluster)
}

/// The cluster file's `known_hosts =` file, relative to the cluster file
/// (`source`), `~/` meaning $HOME.
pub fn conf_known_hosts(cluster: &Cluster, source: &str) -> Option<PathBuf> {
    cluster.known_hosts.as_ref().map(|k| {
        let k = match (k.strip_prefix("~/"), std::env::var_os("HOME")) {
            (Some(rest), Some(h)) => PathBuf::from(h).join(rest),
            _ => PathBuf::from(k),
        };
        match (k.is_relative(), Path::new(source).parent()) {
            (true, Some(dir)) => dir.join(k),
            _ => k,
        }
    })
}

/// How to reach the nodes over SSH, as a command line gave it (what
/// cluster_controller builds its connection options from). Plain data, so
/// that a tool that must reach the same nodes again later
/// (kvmfi-experiment's recover after a kill -9) can record it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct SshSettings {
    pub user: Option<String>,
    pub identities: Vec<PathBuf>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    /// --known-hosts.
    pub known_hosts: Option<PathBuf>,
    /// The cluster file's `known_hosts =` line, resolved.
    pub conf_known_hosts: Option<PathBuf>,
    pub accept_new_host_keys: bool,
    pub insecure_ignore_host_keys: bool,
    /// --ssh-config (`none` for none); default ~/.ssh/config.
    pub ssh_config: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn original_example() {
        let n = parse(DEFAULT_CONF).unwrap();
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].name, "master");
        assert_eq!(n[0].roles, ["NameNode", "ResourceManager", "SecondaryNameNode"]);
        assert_eq!(n[1].address, "192.168.64.11");
        assert_eq!(n[2].port, 22);
        assert!(n[1].is_hadoop() && !n[1].is_cloudstack());
        assert_eq!(n[2].line, 3);
    }

    #[test]
    fn comments_blanks_spaces_case() {
        let t = "# the cluster\n\n  a , 10.77.0.1 , 2222 , datanode, NODEMANAGER  # workers\r\n#b,1.2.3.4,22,DataNode\nms,ms.example.org,22,ManagementServer,Database,kvmhost,KVMHost\n";
        let n = parse(t).unwrap();
        assert_eq!(n.len(), 2);
        assert_eq!(n[0].roles, ["DataNode", "NodeManager"]);
        assert_eq!(n[0].port, 2222);
        assert_eq!(n[0].line, 3);
        assert_eq!(n[1].roles, ["ManagementServer", "Database", "KVMHost"]);
        assert!(n[1].has_role("kvmhost"));
        assert!(parse("v6,fd00::1,22,Agent\n").is_ok());
    }

    #[test]
    fn line_numbered_errors() {
        let cases: &[(&str, usize, &str)] = &[
            ("a,10.0.0.1,22\n", 1, "has 3 field(s)"),
            ("\n\na,10.0.0.1,22,Foo\n", 3, "unknown role 'Foo'"),
            ("a,10.0.0.1,22,DataNode,\n", 1, "unknown role (empty)"),
            ("a,10.0.0.1,0,DataNode\n", 1, "ssh port '0'"),
            ("a,10.0.0.1,65536,DataNode\n", 1, "ssh port"),
            ("a,10.0.0.1,x,DataNode\n", 1, "ssh port 'x'"),
            ("a b,10.0.0.1,22,DataNode\n", 1, "node name 'a b'"),
            (",10.0.0.1,22,DataNode\n", 1, "node name ''"),
            ("a,10.0.0.300,22,DataNode\n", 1, "neither an IP"),
            ("a,host_x,22,DataNode\n", 1, "neither an IP"),
            ("a,10.0.0.1,22,DataNode\na,10.0.0.2,22,DataNode\n", 2, "already used on line 1"),
            ("a,10.0.0.1,22,DataNode\nb,10.0.0.1,22,DataNode\n", 2, "already node 'a' (line 1)"),
        ];
        for (text, line, want) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, *line, "{text:?}: {e}");
            assert!(e.to_string().contains(want), "{text:?}: {e}");
        }
        // Same address on another port is another node.
        assert!(parse("a,10.0.0.1,2220,DataNode\nb,10.0.0.1,2221,DataNode\n").is_ok());
    }

    #[test]
    fn shipped_file_parses() {
        let text = include_str!("../../cluster.conf");
        let n = parse(text).unwrap();
        assert_eq!(n.len(), 3);
        assert_eq!(n[0].name, "master");
    }

    /// xorshift64*: a deterministic generator for the fuzz test, so a
    /// failure is reproducible from the seed it prints.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Fuzz-style: random bytes, random tokens, and mutations of valid
    /// files must give Ok or a ConfError with a line inside the text, never
    /// a panic; every node that parses satisfies the documented rules.
    #[test]
    fn no_input_panics() {
        const TOKENS: &[&str] = &[
            ",", "#", "\n", "\r\n", " ", "\t", "master", "a", "10.77.0.1", "fd00::1", "::", "host.example",
            "-x", "22", "0", "65535", "65536", "99999999999999999999", "-1", "DataNode", "datanode",
            "KVMHost", "Nope", "é", "\u{0}", "ü,", ",,", "#,", "1.2.3.4.5", "..",
        ];
        let valid = "master,10.77.0.1,22,NameNode\nslave1,10.77.0.2,2222,DataNode,NodeManager\n";
        for seed in 1..=3000u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let text: String = match seed % 3 {
                0 => {
                    let len = rng.below(200);
                    let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                    String::from_utf8_lossy(&bytes).into_owned()
                }
                1 => (0..rng.below(40)).map(|_| TOKENS[rng.below(TOKENS.len())]).collect(),
                _ => {
                    let mut s: Vec<char> = valid.chars().collect();
                    for _ in 0..1 + rng.below(4) {
                        let pos = rng.below(s.len() + 1);
                        let tok: Vec<char> = TOKENS[rng.below(TOKENS.len())].chars().collect();
                        if rng.below(2) == 0 && pos < s.len() {
                            s.remove(pos);
                        }
                        for (k, c) in tok.into_iter().enumerate() {
                            s.insert((pos + k).min(s.len()), c);
                        }
                    }
                    s.into_iter().collect()
                }
            };
            match parse(&text) {
                Ok(nodes) => {
                    for n in &nodes {
                        assert!(valid_name(&n.name) && n.port >= 1 && !n.roles.is_empty(), "seed {seed}: {n:?}");
                        assert!(n.roles.iter().all(|r| ROLES.contains(&r.as_str())), "seed {seed}");
                    }
                }
                Err(e) => {
                    let lines = text.lines().count().max(1);
                    assert!(e.line >= 1 && e.line <= lines, "seed {seed}: line {} of {lines}", e.line);
                }
            }
        }
    }
}
