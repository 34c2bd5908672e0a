//! Ansible inventories as cluster files, both ways.
//!
//! Read: INI (`[group]`, `[group:vars]`, `[group:children]`, `host
//! key=value ...`) and YAML (`all: {hosts, vars, children}`, block style).
//! A host's roles are the groups it is in, directly or through
//! `children`, whose name is a role (any letter case; `_` and `-` are
//! ignored, so `data_node` is DataNode), plus the roles listed in its
//! `kvmfi_roles` variable. `ansible_host` (else the host's name) is the
//! address, `ansible_port` the ssh port (22 when absent), `ansible_user`
//! the remote account. Numeric host ranges (`node[01:32]`) are expanded.
//! Host variables override group variables, a child group's override its
//! parent's.
//!
//! Write: [`export_ini`] and [`export_yaml`], one group per role.

use super::{canonical_role, valid_host, valid_name, ConfError, Node, ROLES};
use std::collections::BTreeMap;
use std::path::Path;

/// The two inventory formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ini,
    Yaml,
}

/// The inventory format of a file, or `None` for a cluster.conf: by the
/// extension (`.ini`, `.yml`, `.yaml`), else by the first line that is not
/// blank or a comment (`[group]` is INI; `---` or `key:` is YAML).
pub fn detect(path: &Path, text: &str) -> Option<Kind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("ini") => return Some(Kind::Ini),
        Some("yml" | "yaml") => return Some(Kind::Yaml),
        _ => {}
    }
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))?;
    if first.starts_with('[') {
        Some(Kind::Ini)
    } else if first == "---" || (first.ends_with(':') && !first.contains(',')) || first.starts_with("all:") {
        Some(Kind::Yaml)
    } else {
        None
    }
}

/// Parses an inventory into nodes. Never panics.
pub fn parse(text: &str, kind: Kind) -> Result<Vec<Node>, ConfError> {
    let mut inv = Inventory::default();
    match kind {
        Kind::Ini => read_ini(text, &mut inv)?,
        Kind::Yaml => {
            let tree = yaml::parse(text)?;
            read_yaml(&tree, &mut inv)?;
        }
    }
    inv.nodes()
}

type Vars = BTreeMap<String, String>;

#[derive(Default)]
struct Group {
    vars: Vars,
    children: Vec<String>,
}

#[derive(Default)]
struct Inventory {
    /// Hosts in order of first appearance: name, variables, line, direct groups.
    hosts: Vec<(String, Vars, usize, Vec<String>)>,
    groups: BTreeMap<String, Group>,
}

impl Inventory {
    fn host(&mut self, name: &str, vars: Vars, line: usize, group: &str) -> Result<(), ConfError> {
        if !valid_name(name) {
            return Err(ConfError {
                line,
                msg: format!("host name '{name}' is not valid here; use letters, digits, '.', '_' and '-' (at most 64)"),
            });
        }
        self.groups.entry(group.to_string()).or_default();
        match self.hosts.iter_mut().find(|h| h.0 == name) {
            Some(h) => {
                h.1.extend(vars);
                if !h.3.iter().any(|g| g == group) {
                    h.3.push(group.to_string());
                }
            }
            None => self.hosts.push((name.to_string(), vars, line, vec![group.to_string()])),
        }
        Ok(())
    }

    /// `group` and every group that has it as a child, nearest first.
    fn ancestry(&self, group: &str) -> Vec<String> {
        let mut out = vec![group.to_string()];
        let mut i = 0;
        while i < out.len() && out.len() < 1000 {
            let g = out[i].clone();
            for (name, def) in &self.groups {
                if def.children.iter().any(|c| *c == g) && !out.contains(name) {
                    out.push(name.clone());
                }
            }
            i += 1;
        }
        out
    }

    fn nodes(self) -> Result<Vec<Node>, ConfError> {
        let mut nodes: Vec<Node> = Vec::new();
        for (name, host_vars, line, direct) in &self.hosts {
            let err = |msg: String| ConfError { line: *line, msg };
            let mut groups: Vec<String> = Vec::new();
            for g in direct {
                for a in self.ancestry(g) {
                    if !groups.contains(&a) {
                        groups.push(a);
                    }
                }
            }
            if !groups.iter().any(|g| g == "all") {
                groups.push("all".into());
            }
            // Farthest group first, so nearer groups and then the host win.
            let mut vars = Vars::new();
            for g in groups.iter().rev() {
                if let Some(def) = self.groups.get(g) {
                    vars.extend(def.vars.clone());
                }
            }
            vars.extend(host_vars.clone());
            let mut roles: Vec<String> = Vec::new();
            let mut add = |r: &str| {
                if !roles.iter().any(|x| x == r) {
                    roles.push(r.to_string());
                }
            };
            for g in &groups {
                if let Some(r) = group_role(g) {
                    add(r);
                }
            }
            if let Some(list) = vars.get("kvmfi_roles") {
                for r in list.split(',').map(str::trim).filter(|r| !r.is_empty()) {
                    match canonical_role(r) {
                        Some(c) => add(c),
                        None => return Err(err(format!("host '{name}': kvmfi_roles has unknown role '{r}'; roles are {}", ROLES.join(", ")))),
                    }
                }
            }
            if roles.is_empty() {
                return Err(err(format!(
                    "host '{name}' is in no role group; put it into a group named after its role \
                     (e.g. [datanode] or [DataNode]) or set kvmfi_roles=DataNode on it"
                )));
            }
            let address = vars.get("ansible_host").or_else(|| vars.get("ansible_ssh_host")).cloned().unwrap_or_else(|| name.clone());
            if !valid_host(&address) {
                return Err(err(format!("host '{name}': '{address}' is neither an IP address nor a host name")));
            }
            let (port, port_given) = match vars.get("ansible_port").or_else(|| vars.get("ansible_ssh_port")) {
                None => (22, false),
                Some(p) => match p.parse::<u32>() {
                    Ok(p) if (1..=65535).contains(&p) => (p as u16, true),
                    _ => return Err(err(format!("host '{name}': ansible_port '{p}' must be a number from 1 to 65535"))),
                },
            };
            let user = vars.get("ansible_user").or_else(|| vars.get("ansible_ssh_user")).cloned().filter(|u| !u.is_empty());
            if let Some(other) = nodes.iter().find(|n| n.address == address && n.port == port) {
                return Err(err(format!("host '{name}': {address} port {port} is already host '{}' (line {})", other.name, other.line)));
            }
            nodes.push(Node { name: name.clone(), address, port, roles, line: *line, user, port_given });
        }
        Ok(nodes)
    }
}

/// The role a group stands for: its name in any letter case, `_` and `-`
/// ignored.
fn group_role(group: &str) -> Option<&'static str> {
    let squashed: String = group.chars().filter(|c| *c != '_' && *c != '-').collect();
    canonical_role(&squashed)
}

/// `web[01:03].x` -> web01.x web02.x web03.x (numeric ranges, zero padding
/// kept, an optional `:step`); a name without brackets is itself.
fn expand(name: &str, line: usize) -> Result<Vec<String>, ConfError> {
    let err = |msg: String| ConfError { line, msg };
    let Some(open) = name.find('[') else { return Ok(vec![name.to_string()]) };
    let close = name[open..].find(']').map(|c| c + open).ok_or_else(|| err(format!("'{name}': '[' without ']'")))?;
    let (head, body, tail) = (&name[..open], &name[open + 1..close], &name[close + 1..]);
    let parts: Vec<&str> = body.split(':').collect();
    let bad = || err(format!("'{name}': write a numeric range as [START:END] or [START:END:STEP], e.g. node[01:32]"));
    if parts.len() < 2 || parts.len() > 3 {
        return Err(bad());
    }
    let width = parts[0].len();
    let start: u32 = parts[0].parse().map_err(|_| bad())?;
    let end: u32 = parts[1].parse().map_err(|_| bad())?;
    let step: u32 = match parts.get(2) {
        Some(s) => s.parse().ok().filter(|s| *s > 0).ok_or_else(bad)?,
        None => 1,
    };
    if end < start || (end - start) / step > 100_000 {
        return Err(bad());
    }
    let mut out = Vec::new();
    for n in (start..=end).step_by(step as usize) {
        for rest in expand(tail, line)? {
            out.push(format!("{head}{n:0width$}{rest}"));
        }
    }
    Ok(out)
}

/// `key=value key2="a b"` -> variables (quotes removed).
fn ini_vars(words: &str, line: usize) -> Result<Vars, ConfError> {
    let mut vars = Vars::new();
    let mut rest = words.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or_else(|| ConfError {
            line,
            msg: format!("'{rest}': host variables are key=value (e.g. ansible_host=10.0.0.1)"),
        })?;
        let after = after.trim_start();
        let (value, next) = match after.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let end = after[1..].find(q).ok_or_else(|| ConfError { line, msg: format!("unterminated {q} in '{after}'") })?;
                (&after[1..1 + end], &after[end + 2..])
            }
            _ => after.split_at(after.find(char::is_whitespace).unwrap_or(after.len())),
        };
        vars.insert(key.trim().to_string(), value.to_string());
        rest = next.trim_start();
    }
    Ok(vars)
}

fn read_ini(text: &str, inv: &mut Inventory) -> Result<(), ConfError> {
    #[derive(PartialEq)]
    enum Section {
        Hosts,
        Vars,
        Children,
    }
    let mut group = "ungrouped".to_string();
    let mut section = Section::Hosts;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() || l.starts_with('#') || l.starts_with(';') {
            continue;
        }
        if let Some(head) = l.strip_prefix('[') {
            let head = head.strip_suffix(']').ok_or_else(|| ConfError { line, msg: format!("'{l}': a section is [group], [group:vars] or [group:children]") })?;
            let (g, s) = head.split_once(':').unwrap_or((head, ""));
            section = match s {
                "" | "hosts" => Section::Hosts,
                "vars" => Section::Vars,
                "children" => Section::Children,
                other => return Err(ConfError { line, msg: format!("'[{head}]': unknown section kind ':{other}'; use :vars or :children") }),
            };
            if g.is_empty() {
                return Err(ConfError { line, msg: "'[]': a section needs a group name".into() });
            }
            group = g.to_string();
            inv.groups.entry(group.clone()).or_default();
            continue;
        }
        match section {
            Section::Vars => {
                let vars = ini_vars(l, line)?;
                inv.groups.entry(group.clone()).or_default().vars.extend(vars);
            }
            Section::Children => {
                let child = l.split_whitespace().next().unwrap_or("").to_string();
                inv.groups.entry(child.clone()).or_default();
                inv.groups.entry(group.clone()).or_default().children.push(child);
            }
            Section::Hosts => {
                let (name, vars) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
                let vars = ini_vars(vars, line)?;
                for h in expand(name, line)? {
                    inv.host(&h, vars.clone(), line, &group)?;
                }
            }
        }
    }
    Ok(())
}

fn scalar_vars(v: &yaml::Value, what: &str) -> Result<Vars, ConfError> {
    let mut vars = Vars::new();
    match v {
        yaml::Value::Null => {}
        yaml::Value::Map(m, _) => {
            for (k, val, line) in m {
                match val {
                    yaml::Value::Scalar(s, _) => {
                        vars.insert(k.clone(), s.clone());
                    }
                    yaml::Value::Null => {}
                    // Lists and maps (e.g. ansible_ssh_common_args as a list) do not matter here.
                    yaml::Value::Map(..) => {
                        let _ = line;
                    }
                }
            }
        }
        yaml::Value::Scalar(_, line) => {
            return Err(ConfError { line: *line, msg: format!("{what} must be a mapping (key: value lines)") })
        }
    }
    Ok(vars)
}

fn read_group(name: &str, def: &yaml::Value, inv: &mut Inventory) -> Result<(), ConfError> {
    inv.groups.entry(name.to_string()).or_default();
    let yaml::Value::Map(entries, _) = def else {
        return match def {
            yaml::Value::Null => Ok(()),
            yaml::Value::Scalar(s, line) => Err(ConfError { line: *line, msg: format!("group '{name}': '{s}' is not hosts:, vars: or children:") }),
            yaml::Value::Map(..) => unreachable!(),
        };
    };
    for (key, val, line) in entries {
        match key.as_str() {
            "hosts" => match val {
                yaml::Value::Null => {}
                yaml::Value::Map(hosts, _) => {
                    for (h, hv, hline) in hosts {
                        let vars = scalar_vars(hv, &format!("host '{h}'"))?;
                        for one in expand(h, *hline)? {
                            inv.host(&one, vars.clone(), *hline, name)?;
                        }
                    }
                }
                yaml::Value::Scalar(..) => {
                    return Err(ConfError { line: *line, msg: format!("group '{name}': hosts: must be a mapping of host names") })
                }
            },
            "vars" => {
                let vars = scalar_vars(val, &format!("group '{name}' vars"))?;
                inv.groups.entry(name.to_string()).or_default().vars.extend(vars);
            }
            "children" => match val {
                yaml::Value::Null => {}
                yaml::Value::Map(children, _) => {
                    for (c, cdef, _) in children {
                        inv.groups.entry(name.to_string()).or_default().children.push(c.clone());
                        read_group(c, cdef, inv)?;
                    }
                }
                yaml::Value::Scalar(..) => {
                    return Err(ConfError { line: *line, msg: format!("group '{name}': children: must be a mapping of group names") })
                }
            },
            other => {
                return Err(ConfError {
                    line: *line,
                    msg: format!("group '{name}': unknown key '{other}'; a group has hosts:, vars: and children:"),
                })
            }
        }
    }
    Ok(())
}

fn read_yaml(tree: &yaml::Value, inv: &mut Inventory) -> Result<(), ConfError> {
    match tree {
        yaml::Value::Null => Ok(()),
        yaml::Value::Scalar(_, line) => Err(ConfError { line: *line, msg: "an inventory is a mapping of groups (all: ...)".into() }),
        yaml::Value::Map(groups, _) => {
            for (g, def, _) in groups {
                read_group(g, def, inv)?;
            }
            Ok(())
        }
    }
}

/// The nodes as one group per role, so ansible's groups are the roles.
fn by_role(nodes: &[Node]) -> Vec<(&'static str, Vec<&Node>)> {
    ROLES.iter().map(|r| (*r, nodes.iter().filter(|n| n.has_role(r)).collect::<Vec<_>>())).filter(|(_, v)| !v.is_empty()).collect()
}

fn host_vars(n: &Node) -> Vec<(&'static str, String)> {
    let mut v = vec![("ansible_host", n.address.clone()), ("ansible_port", n.port.to_string())];
    if let Some(u) = &n.user {
        v.push(("ansible_user", u.clone()));
    }
    v
}

/// An INI inventory of `nodes`: one group per role, variables on each host line.
pub fn export_ini(nodes: &[Node]) -> String {
    let mut s = String::from("# Ansible inventory of the cluster: one group per role.\n");
    for (role, ns) in by_role(nodes) {
        s.push_str(&format!("\n[{role}]\n"));
        for n in ns {
            let vars: Vec<String> = host_vars(n).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            s.push_str(&format!("{} {}\n", n.name, vars.join(" ")));
        }
    }
    s
}

/// A YAML inventory of `nodes`: `all: children:` one group per role.
pub fn export_yaml(nodes: &[Node]) -> String {
    let mut s = String::from("# Ansible inventory of the cluster: one group per role.\nall:\n  children:\n");
    for (role, ns) in by_role(nodes) {
        s.push_str(&format!("    {role}:\n      hosts:\n"));
        for n in ns {
            s.push_str(&format!("        {}:\n", n.name));
            for (k, v) in host_vars(n) {
                s.push_str(&format!("          {k}: \"{v}\"\n"));
            }
        }
    }
    s
}

/// The block-style subset of YAML that Ansible inventories use: nested
/// mappings of scalars (plain or quoted), `~`/`null`/empty as null, `{}`
/// as an empty mapping, comments, `---`. Lists and flow collections are
/// refused with their line.
mod yaml {
    use super::ConfError;

    /// A node of the document; numbers are the 1-based lines.
    #[derive(Debug, Clone, PartialEq)]
    pub enum Value {
        Null,
        Scalar(String, usize),
        Map(Vec<(String, Value, usize)>, usize),
    }

    struct Line<'a> {
        no: usize,
        indent: usize,
        text: &'a str,
    }

    fn strip_comment(l: &str) -> &str {
        let mut quote = None;
        let mut prev = ' ';
        for (i, c) in l.char_indices() {
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '#' && prev.is_whitespace() => return &l[..i],
                None => {}
            }
            prev = c;
        }
        l
    }

    fn scalar(s: &str, no: usize) -> Result<Value, ConfError> {
        let s = s.trim();
        if s.is_empty() || s == "~" || s == "null" || s == "Null" || s == "NULL" {
            return Ok(Value::Null);
        }
        if s == "{}" {
            return Ok(Value::Map(Vec::new(), no));
        }
        if s.starts_with('{') || s.starts_with('[') || s.starts_with('&') || s.starts_with('*') || s.starts_with('|') || s.starts_with('>') {
            return Err(ConfError { line: no, msg: format!("'{s}': only block-style mappings and plain or quoted values are read; write one key: value a line") });
        }
        for q in ['"', '\''] {
            if let Some(inner) = s.strip_prefix(q) {
                let inner = inner.strip_suffix(q).ok_or_else(|| ConfError { line: no, msg: format!("unterminated {q} in '{s}'") })?;
                return Ok(Value::Scalar(inner.to_string(), no));
            }
        }
        Ok(Value::Scalar(s.to_string(), no))
    }

    /// The key of `key: rest` (quotes removed) and the rest.
    fn split_key(text: &str, no: usize) -> Result<(String, &str), ConfError> {
        let err = || ConfError { line: no, msg: format!("'{text}': expected 'key:' or 'key: value'") };
        let (k, rest) = if let Some(q @ ('"' | '\'')) = text.chars().next() {
            let end = text[1..].find(q).ok_or_else(err)? + 1;
            let rest = text[end + 1..].trim_start().strip_prefix(':').ok_or_else(err)?;
            (text[1..end].to_string(), rest)
        } else {
            let pos = text.match_indices(':').map(|(i, _)| i).find(|&i| text[i + 1..].is_empty() || text[i + 1..].starts_with(' ')).ok_or_else(err)?;
            (text[..pos].trim().to_string(), &text[pos + 1..])
        };
        if k.is_empty() {
            return Err(err());
        }
        Ok((k, rest))
    }

    fn block(lines: &[Line], pos: &mut usize, indent: usize) -> Result<Value, ConfError> {
        let first = lines[*pos].no;
        let mut entries: Vec<(String, Value, usize)> = Vec::new();
        while *pos < lines.len() {
            let l = &lines[*pos];
            if l.indent < indent {
                break;
            }
            if l.indent > indent {
                return Err(ConfError { line: l.no, msg: "indentation does not match the lines above".into() });
            }
            if l.text.starts_with("- ") || l.text == "-" {
                return Err(ConfError { line: l.no, msg: "a list item: an inventory's hosts, vars and children are mappings (name: lines)".into() });
            }
            let (key, rest) = split_key(l.text, l.no)?;
            if entries.iter().any(|e| e.0 == key) {
                return Err(ConfError { line: l.no, msg: format!("key '{key}' appears twice in one mapping") });
            }
            let no = l.no;
            *pos += 1;
            let value = if rest.trim().is_empty() {
                match lines.get(*pos) {
                    Some(next) if next.indent > indent => {
                        let ni = next.indent;
                        block(lines, pos, ni)?
                    }
                    _ => Value::Null,
                }
            } else {
                scalar(rest, no)?
            };
            entries.push((key, value, no));
        }
        Ok(Value::Map(entries, first))
    }

    /// Parses the document. Never panics.
    pub fn parse(text: &str) -> Result<Value, ConfError> {
        let mut lines = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let no = i + 1;
            if raw.contains('\t') && raw.trim_start().len() != raw.trim_start_matches('\t').len() {
                return Err(ConfError { line: no, msg: "a tab in the indentation; YAML indents with spaces".into() });
            }
            let l = strip_comment(raw).trim_end();
            let t = l.trim_start();
            if t.is_empty() || t == "---" || t == "..." {
                continue;
            }
            if t.starts_with('%') {
                return Err(ConfError { line: no, msg: "YAML directives are not read".into() });
            }
            lines.push(Line { no, indent: l.len() - t.len(), text: t });
        }
        if lines.is_empty() {
            return Ok(Value::Null);
        }
        let mut pos = 0;
        let indent = lines[0].indent;
        let v = block(&lines, &mut pos, indent)?;
        if pos < lines.len() {
            return Err(ConfError { line: lines[pos].no, msg: "indentation does not match the lines above".into() });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &[Node]) -> Vec<String> {
        n.iter().map(|n| format!("{}@{}:{}{}={}", n.name, n.address, n.port, n.user.as_deref().map(|u| format!("/{u}")).unwrap_or_default(), n.roles.join("+"))).collect()
    }

    #[test]
    fn ini_groups_vars_children_ranges() {
        let t = "# fleet\nctl ansible_host=10.0.0.1 kvmfi_roles=KVMHost\n[namenode]\nmaster ansible_host=10.0.0.10 ansible_port=2222\n\
                 [data_node]\nslave[1:2] ansible_user=hdfs\n[nodemanager]\nslave1\n[hadoop:children]\nnamenode\ndata_node\n[hadoop:vars]\nansible_user=root\n\
                 [all:vars]\nansible_port=22\n";
        let n = parse(t, Kind::Ini).unwrap();
        assert_eq!(
            names(&n),
            [
                "ctl@10.0.0.1:22=KVMHost",
                "master@10.0.0.10:2222/root=NameNode",
                "slave1@slave1:22/hdfs=DataNode+NodeManager",
                "slave2@slave2:22/hdfs=DataNode"
            ]
        );
        assert!(n[0].port_given && n[1].port_given);
        assert_eq!(n[2].line, 6);
    }

    #[test]
    fn yaml_same_as_ini() {
        let t = "---\nall:\n  vars:\n    ansible_port: 22\n  hosts:\n    ctl:\n      ansible_host: 10.0.0.1\n      kvmfi_roles: KVMHost\n  children:\n    hadoop:\n      vars:\n        ansible_user: root  # comment\n      children:\n        namenode:\n          hosts:\n            master:\n              ansible_host: \"10.0.0.10\"\n              ansible_port: 2222\n        data_node:\n          hosts:\n            slave[1:2]:\n              ansible_user: 'hdfs'\n    nodemanager:\n      hosts:\n        slave1:\n";
        let n = parse(t, Kind::Yaml).unwrap();
        assert_eq!(
            names(&n),
            [
                "ctl@10.0.0.1:22=KVMHost",
                "master@10.0.0.10:2222/root=NameNode",
                "slave1@slave1:22/hdfs=DataNode+NodeManager",
                "slave2@slave2:22/hdfs=DataNode"
            ]
        );
    }

    #[test]
    fn port_default_is_not_given() {
        let n = parse("[datanode]\nd1 ansible_host=10.1.1.1\n", Kind::Ini).unwrap();
        assert_eq!((n[0].port, n[0].port_given), (22, false));
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, Kind, usize, &str)] = &[
            ("[web]\nw1\n", Kind::Ini, 2, "in no role group"),
            ("[datanode]\nd1 ansible_port=0\n", Kind::Ini, 2, "ansible_port '0'"),
            ("[datanode]\nd1 ansible_host\n", Kind::Ini, 2, "key=value"),
            ("[datanode\n", Kind::Ini, 1, "a section is"),
            ("[datanode]\nd[1:x]\n", Kind::Ini, 2, "numeric range"),
            ("[datanode]\nd1 kvmfi_roles=Foo\n", Kind::Ini, 2, "unknown role 'Foo'"),
            ("[datanode]\nd1 ansible_host=1.1.1.1\nd2 ansible_host=1.1.1.1\n", Kind::Ini, 3, "already host 'd1'"),
            ("all:\n  hosts:\n    - a\n", Kind::Yaml, 3, "list item"),
            ("all:\n  hostz:\n    a:\n", Kind::Yaml, 2, "unknown key 'hostz'"),
            ("all:\n  children:\n    datanode:\n      hosts: {a: 1}\n", Kind::Yaml, 4, "block-style"),
            ("all:\n  children:\n   datanode:\n     hosts:\n       a:\n  x:\n", Kind::Yaml, 6, "unknown key 'x'"),
        ];
        for (text, kind, line, want) in cases {
            let e = parse(text, *kind).unwrap_err();
            assert!(e.to_string().contains(want) && e.line == *line, "{text:?}: {e}");
        }
    }

    #[test]
    fn export_reads_back() {
        let t = "a,10.0.0.1,2200,NameNode,DataNode\nb,10.0.0.2,22,DataNode\n";
        let mut nodes = super::super::parse(t).unwrap();
        nodes[1].user = Some("ops".into());
        for (text, kind) in [(export_ini(&nodes), Kind::Ini), (export_yaml(&nodes), Kind::Yaml)] {
            let mut back = parse(&text, kind).unwrap();
            back.sort_by(|x, y| x.name.cmp(&y.name));
            assert_eq!(names(&back), names(&nodes), "{text}");
        }
    }

    #[test]
    fn detects_formats() {
        let p = Path::new("inv");
        assert_eq!(detect(p, "# x\n[datanode]\n"), Some(Kind::Ini));
        assert_eq!(detect(p, "---\nall:\n"), Some(Kind::Yaml));
        assert_eq!(detect(p, "all:\n  hosts:\n"), Some(Kind::Yaml));
        assert_eq!(detect(p, "a,10.0.0.1,22,DataNode\n"), None);
        assert_eq!(detect(Path::new("x.yml"), ""), Some(Kind::Yaml));
    }

    #[test]
    fn no_input_panics() {
        let pieces = ["all:", "\n", "  ", "hosts:", "children:", "vars:", "a", "[", "]", ":", "1", "'", "\"", "#", "-", "{}", "=", "[datanode]", "x[1:3]", "\t"];
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..3000 {
            let mut s = String::new();
            for _ in 0..(seed % 30) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let _ = parse(&s, Kind::Ini);
            let _ = parse(&s, Kind::Yaml);
        }
    }
}
