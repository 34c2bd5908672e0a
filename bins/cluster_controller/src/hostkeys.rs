//! Host key checking as OpenSSH does it, on by default: the key a node
//! offers must be in a known_hosts file (the one given, the cluster file's,
//! ~/.ssh/known_hosts, /etc/ssh/ssh_known_hosts). An unknown key is refused
//! with its fingerprint and the line that would add it, unless
//! trust-on-first-use was chosen (then it is recorded, like
//! `StrictHostKeyChecking=accept-new`); a changed key is always refused.

use ssh2::{CheckResult, HashType, HostKeyType, KnownHostFileKind, Session};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What to do with a key that no file lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Refuse it (the default).
    Strict,
    /// Record it and go on (`--accept-new-host-keys`); changed keys are still refused.
    AcceptNew,
    /// Check nothing (`--insecure-ignore-host-keys`): the original's behaviour.
    Insecure,
}

/// The files and the policy.
#[derive(Debug, Clone)]
pub struct HostKeys {
    pub policy: Policy,
    /// Read in this order; missing ones are skipped.
    pub files: Vec<PathBuf>,
    /// Where accept-new records keys.
    pub record_to: PathBuf,
}

/// The system-wide file OpenSSH reads.
pub const SYSTEM_FILE: &str = "/etc/ssh/ssh_known_hosts";

/// Serializes appends to the known_hosts file (nodes connect in parallel).
static RECORD: Mutex<()> = Mutex::new(());

impl HostKeys {
    /// `explicit` (--known-hosts), then the cluster file's, then
    /// ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts; new keys go to the
    /// first of them.
    pub fn new(policy: Policy, explicit: Option<PathBuf>, from_conf: Option<PathBuf>) -> HostKeys {
        let user = crate::sshconfig::tilde("~/.ssh/known_hosts");
        let mut files: Vec<PathBuf> = explicit.into_iter().chain(from_conf).collect();
        files.push(user);
        files.push(SYSTEM_FILE.into());
        files.dedup();
        let record_to = files[0].clone();
        HostKeys { policy, files, record_to }
    }

    /// Checks the key `sess` was offered by `host`:`port`.
    pub fn check(&self, sess: &Session, host: &str, port: u16) -> Result<(), String> {
        if self.policy == Policy::Insecure {
            return Ok(());
        }
        let (key, kind) = sess.host_key().ok_or("the server sent no host key")?;
        let fp = fingerprint(sess);
        let tname = type_name(kind);
        let mut changed_in = Vec::new();
        for f in self.files.iter().filter(|f| f.exists()) {
            let mut kh = sess.known_hosts().map_err(|e| e.message().to_string())?;
            kh.read_file(f, KnownHostFileKind::OpenSSH)
                .map_err(|e| format!("cannot read known hosts {}: {} (fix or move the file)", f.display(), e.message()))?;
            match kh.check_port(host, port, key) {
                CheckResult::Match => return Ok(()),
                CheckResult::Mismatch => changed_in.push(f.display().to_string()),
                CheckResult::NotFound => {}
                CheckResult::Failure => return Err(format!("host key check against {} failed", f.display())),
            }
        }
        let pat = pattern(host, port);
        let scan = format!("ssh-keyscan -p {port} -t {} {host}", scan_type(kind));
        if !changed_in.is_empty() {
            let msg = format!(
                "HOST KEY CHANGED: {host} port {port} now offers {tname} {fp}, but {} records another key for it. \
                 Someone may be intercepting the connection (or the node was reinstalled): refusing to connect. \
                 If the change is expected, remove the old key (ssh-keygen -R '{pat}' -f {}) and add the new one ({scan} >> {})",
                changed_in.join(" and "),
                changed_in[0],
                changed_in[0]
            );
            eprintln!("{}: WARNING: {msg}", crate::TOOL);
            return Err(msg);
        }
        if self.policy == Policy::AcceptNew {
            self.record(&pat, kind, key).map_err(|e| format!("cannot record the host key of {host} in {}: {e}", self.record_to.display()))?;
            eprintln!("{}: {host} port {port}: recorded its new host key {tname} {fp} in {}", crate::TOOL, self.record_to.display());
            return Ok(());
        }
        let all: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        let where_ = format!("not in {}", all.join(", "));
        Err(format!(
            "UNKNOWN HOST KEY: {host} port {port} offers {tname} {fp} ({where_}): refusing to connect. \
             If that is the node's key (compare: ssh-keygen -lf /etc/ssh/ssh_host_{}_key.pub on the node), add it with \
             {scan} >> {} (check: ssh-keygen -F '{pat}' -f {}), or rerun with --accept-new-host-keys",
            scan_type(kind),
            self.record_to.display(),
            self.record_to.display()
        ))
    }

    fn record(&self, pat: &str, kind: HostKeyType, key: &[u8]) -> std::io::Result<()> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let _guard = RECORD.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(dir) = self.record_to.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        }
        let mut f = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&self.record_to)?;
        // A file that does not end in a newline must not glue two entries.
        let len = f.metadata()?.len();
        let sep = if len > 0 && !ends_with_newline(&self.record_to) { "\n" } else { "" };
        writeln!(f, "{sep}{pat} {} {}", type_name(kind), base64(key, true))?;
        f.sync_all()
    }
}

fn ends_with_newline(p: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let mut b = [0u8; 1];
    std::fs::File::open(p).and_then(|mut f| f.seek(SeekFrom::End(-1)).and_then(|_| f.read_exact(&mut b))).map(|_| b[0] == b'\n').unwrap_or(true)
}

/// `host` for port 22, `[host]:port` otherwise (known_hosts and ssh-keygen -F/-R).
pub fn pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// OpenSSH's fingerprint: `SHA256:` and the unpadded base64 of the key's hash.
pub fn fingerprint(sess: &Session) -> String {
    match sess.host_key_hash(HashType::Sha256) {
        Some(h) => format!("SHA256:{}", base64(h, false)),
        None => "(no fingerprint)".into(),
    }
}

fn type_name(t: HostKeyType) -> &'static str {
    match t {
        HostKeyType::Rsa => "ssh-rsa",
        HostKeyType::Dss => "ssh-dss",
        HostKeyType::Ecdsa256 => "ecdsa-sha2-nistp256",
        HostKeyType::Ecdsa384 => "ecdsa-sha2-nistp384",
        HostKeyType::Ecdsa521 => "ecdsa-sha2-nistp521",
        HostKeyType::Ed25519 => "ssh-ed25519",
        HostKeyType::Unknown => "unknown",
    }
}

/// The `-t` word of ssh-keyscan and of the host key file names.
fn scan_type(t: HostKeyType) -> &'static str {
    match t {
        HostKeyType::Rsa => "rsa",
        HostKeyType::Dss => "dsa",
        HostKeyType::Ecdsa256 | HostKeyType::Ecdsa384 | HostKeyType::Ecdsa521 => "ecdsa",
        HostKeyType::Ed25519 | HostKeyType::Unknown => "ed25519",
    }
}

/// Standard base64, with or without `=` padding.
pub fn base64(data: &[u8], pad: bool) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..=c.len() {
            s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            for _ in c.len()..3 {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(i.as_bytes(), true), o);
            assert_eq!(base64(i.as_bytes(), false), o.trim_end_matches('='));
        }
    }

    #[test]
    fn patterns_and_files() {
        assert_eq!(pattern("10.0.0.1", 22), "10.0.0.1");
        assert_eq!(pattern("h", 2222), "[h]:2222");
        let k = HostKeys::new(Policy::Strict, Some("/x/kh".into()), None);
        assert_eq!(k.record_to, PathBuf::from("/x/kh"));
        assert_eq!(k.files.last().unwrap(), &PathBuf::from(SYSTEM_FILE));
    }
}
