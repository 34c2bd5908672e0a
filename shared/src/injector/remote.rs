//! Other nodes: a node named on the command line resolved through
//! cluster.conf or /etc/hosts, whether an address is this host's, and the
//! ssh command that runs a `*-local` command on another node.

use crate::error::{Error, Result};
use crate::host::exec;
use crate::host::firewall::parse_ip;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// Where the cluster facts come from: `--cluster-conf`, else
/// `$KVMFI_CLUSTER_CONF`, else ./cluster.conf when it exists (the
/// original's default path).
pub fn cluster_conf_path(opt: Option<&Path>) -> Option<PathBuf> {
    opt.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("KVMFI_CLUSTER_CONF").filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("cluster.conf")).filter(|p| p.is_file()))
}

/// A node named on the command line: its address, and its ssh port when
/// cluster.conf gives one.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub name: String,
    pub ip: IpAddr,
    pub ssh_port: Option<u16>,
}

/// Resolves TGT: an address as is; a name through cluster.conf (the
/// shared parser, [`crate::clusterconf`]) when there is one, then the
/// system resolver (/etc/hosts). A cluster.conf address may be a host name.
pub fn resolve(tgt: &str, conf: Option<&Path>) -> Result<Resolved> {
    let nodes = conf_nodes(conf)?;
    if let Ok(ip) = parse_ip(tgt) {
        let port = nodes.iter().find(|n| n.address.parse::<IpAddr>().ok() == Some(ip)).map(|n| n.port);
        return Ok(Resolved { name: tgt.into(), ip, ssh_port: port });
    }
    if !crate::cliparse::is_plain_word(tgt, 253, "-._") {
        return Err(Error::usage(format!("'{tgt}' is neither an IP address nor a node name")));
    }
    if let Some(n) = nodes.iter().find(|n| n.name == tgt) {
        let ip = lookup(&n.address)
            .ok_or_else(|| Error::usage(format!("node '{tgt}': cannot resolve its address '{}'", n.address)))?;
        return Ok(Resolved { name: tgt.into(), ip, ssh_port: Some(n.port) });
    }
    let ip = lookup(tgt).ok_or_else(|| {
        Error::usage(format!("unknown node '{tgt}': not in cluster.conf nor /etc/hosts; give its address"))
    })?;
    Ok(Resolved { name: tgt.into(), ip, ssh_port: None })
}

/// An address, or a host name through the system resolver (IPv4 first
/// when the name has both, as localhost has).
fn lookup(host: &str) -> Option<IpAddr> {
    use std::net::ToSocketAddrs;
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    let addrs: Vec<IpAddr> = (host, 0).to_socket_addrs().map(|a| a.map(|s| s.ip()).collect()).unwrap_or_default();
    addrs.iter().find(|a| a.is_ipv4()).or_else(|| addrs.first()).copied()
}

fn conf_nodes(conf: Option<&Path>) -> Result<Vec<crate::clusterconf::Node>> {
    match cluster_conf_path(conf) {
        Some(p) => crate::clusterconf::load(&p),
        None => Ok(Vec::new()),
    }
}

/// True when `ip` is an address of this host (it can be bound here).
pub fn is_local(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}

/// How to reach other nodes.
#[derive(Debug, Clone, Default)]
pub struct Ssh {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub key: Option<PathBuf>,
    /// The injector's path on the other nodes.
    pub remote_tool: String,
}

impl Ssh {
    /// `ssh ... HOST TOOL ARGS`: batch mode (never a password prompt), a
    /// connect timeout, the node's port from cluster.conf unless given.
    pub fn argv(&self, node: &Resolved, args: &[String]) -> Result<Vec<String>> {
        let ssh = exec::require_tool("ssh", "apt-get install openssh-client")?;
        let mut a = vec![ssh.to_string_lossy().into_owned(), "-o".into(), "BatchMode=yes".into(), "-o".into(),
            "ConnectTimeout=10".into()];
        if let Some(p) = self.port.or(node.ssh_port) {
            a.extend(["-p".into(), p.to_string()]);
        }
        if let Some(k) = &self.key {
            a.extend(["-i".into(), k.display().to_string()]);
        }
        if let Some(u) = &self.user {
            a.extend(["-l".into(), u.clone()]);
        }
        a.push(node.ip.to_string());
        let mut remote = vec![self.remote_tool.clone()];
        remote.extend(args.iter().cloned());
        a.push(exec::display_argv(&remote));
        Ok(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let d = crate::testutil::TempPath::file("cc", "# c\nmaster,127.0.0.1,22,NameNode\nslave1, localhost ,2221,DataNode # x\n");
        let r = resolve("slave1", Some(&*d)).unwrap();
        assert_eq!((r.ip.to_string(), r.ssh_port), ("127.0.0.1".to_string(), Some(2221)));
        assert_eq!(resolve("127.0.0.1", Some(&*d)).unwrap().ssh_port, Some(22));
        assert!(resolve("bad/name", Some(&*d)).is_err());
        assert!(is_local("127.0.0.1".parse().unwrap()));
    }
}
