//! The nodes of a cluster and their roles, shared by the cluster.conf
//! parser ([`super`]) and the Ansible inventory reader ([`super::ansible`]).

use serde::Serialize;
use std::fmt;
use std::net::IpAddr;

/// The roles a node can have, in their canonical spelling.
pub const ROLES: &[&str] = &[
    // Hadoop (hadoop_injector)
    "NameNode",
    "DataNode",
    "SecondaryNameNode",
    "ResourceManager",
    "NodeManager",
    "JobHistoryServer",
    // CloudStack (cloudstack_injector)
    "ManagementServer",
    "Agent",
    "UsageServer",
    "Database",
    "NFS",
    // KVM host (the kernel tools, e.g. kvm-ioctl-fi)
    "KVMHost",
];

/// Roles served by hadoop_injector.
pub const HADOOP_ROLES: &[&str] =
    &["NameNode", "DataNode", "SecondaryNameNode", "ResourceManager", "NodeManager", "JobHistoryServer"];
/// Roles served by cloudstack_injector.
pub const CLOUDSTACK_ROLES: &[&str] = &["ManagementServer", "Agent", "UsageServer", "Database", "NFS"];

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Its name, e.g. `slave1`.
    pub name: String,
    /// IP address or host name sshd listens on.
    pub address: String,
    /// sshd's port.
    pub port: u16,
    /// Its roles, canonical spelling, in file order.
    pub roles: Vec<String>,
    /// The line of the file it came from (1-based).
    pub line: usize,
    /// Remote account for this node (an inventory's `ansible_user`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// False when the port is only the default 22 (an inventory host
    /// without `ansible_port`): then ~/.ssh/config's Port may apply.
    #[serde(skip)]
    pub port_given: bool,
}

impl Node {
    /// True when the node has `role` (any letter case).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.eq_ignore_ascii_case(role))
    }
    /// True when it runs Hadoop daemons.
    pub fn is_hadoop(&self) -> bool {
        HADOOP_ROLES.iter().any(|r| self.has_role(r))
    }
    /// True when it runs CloudStack daemons.
    pub fn is_cloudstack(&self) -> bool {
        CLOUDSTACK_ROLES.iter().any(|r| self.has_role(r))
    }
}

/// A line of the file that is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, and how to write it.
    pub msg: String,
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.msg)
    }
}

/// The canonical spelling of `role`, if it is one.
pub fn canonical_role(role: &str) -> Option<&'static str> {
    ROLES.iter().copied().find(|r| r.eq_ignore_ascii_case(role))
}

pub(crate) fn valid_name(s: &str) -> bool {
    crate::cliparse::is_plain_word(s, 64, "._-")
}

pub(crate) fn valid_host(s: &str) -> bool {
    if s.parse::<IpAddr>().is_ok() {
        return true;
    }
    // A host name (RFC 1123 labels); all-digit-and-dot strings that are not
    // an address (e.g. 10.0.0.300) are refused.
    if s.is_empty() || s.len() > 253 || s.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return false;
    }
    s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}
