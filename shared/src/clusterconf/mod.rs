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
mod conf;
mod node;

pub use conf::{parse, parse_cluster};
pub use node::{
    canonical_role, Cluster, ConfError, Node, CLOUDSTACK_ROLES, DEFAULT_CONF, HADOOP_ROLES, ROLES,
};

use crate::error::{Error, Result};
use std::path::Path;

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
        let text = include_str!("../../../cluster.conf");
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
                        assert!(node::valid_name(&n.name) && n.port >= 1 && !n.roles.is_empty(), "seed {seed}: {n:?}");
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
