//! The original tools' `cluster.conf` format: `name,address,ssh_port,role[,role...]`
//! a line, plus the `known_hosts = PATH` setting (see [`super`]).

use super::node::{canonical_role, valid_host, valid_name, Cluster, ConfError, Node, ROLES};

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

