//! A MariaDB / MySQL administrative connection through the host's own
//! `mariadb` (or `mysql`) client, for faults that change server settings
//! and must put back exactly what was there.

use crate::error::{Error, Result};
use super::exec;
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// How to reach the database server as an administrator.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Database connection")]
pub struct DbOpts {
    /// Server socket (default: the client's own default)
    #[arg(long, value_name = "PATH")]
    pub db_socket: Option<PathBuf>,
    /// Server host, for TCP instead of the socket
    #[arg(long, value_name = "HOST")]
    pub db_host: Option<String>,
    /// Server TCP port
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub db_port: Option<u16>,
    /// Administrative account that may change limits
    #[arg(long, value_name = "USER", default_value = "root")]
    pub db_admin: String,
    /// Client option file with the administrator's password
    /// (passed as --defaults-extra-file; passwords never appear on the command line)
    #[arg(long, value_name = "FILE")]
    pub db_defaults_file: Option<PathBuf>,
}

/// A resolved client: program and connection arguments.
#[derive(Debug, Clone)]
pub struct Db {
    base: Vec<String>,
    timeout: Duration,
}

impl Db {
    /// Finds `mariadb`, else `mysql`, on PATH (exit 4 when neither).
    pub fn new(o: &DbOpts) -> Result<Db> {
        let client = exec::which("mariadb", &[])
            .or_else(|| exec::which("mysql", &[]))
            .ok_or_else(|| {
                Error::unsupported("neither 'mariadb' nor 'mysql' client is on PATH; install mariadb-client")
            })?;
        let mut base = vec![client.to_string_lossy().into_owned()];
        if let Some(f) = &o.db_defaults_file {
            base.push(format!("--defaults-extra-file={}", f.display()));
        }
        if let Some(s) = &o.db_socket {
            base.push(format!("--socket={}", s.display()));
        }
        if let Some(h) = &o.db_host {
            base.push(format!("--host={h}"));
            base.push("--protocol=TCP".into());
        }
        if let Some(p) = o.db_port {
            base.push(format!("--port={p}"));
        }
        base.push(format!("--user={}", o.db_admin));
        base.extend(["--batch", "--skip-column-names", "--connect-timeout=10"].map(String::from));
        Ok(Db { base, timeout: Duration::from_secs(30) })
    }

    /// The argv that runs `sql`.
    pub fn argv(&self, sql: &str) -> Vec<String> {
        let mut a = self.base.clone();
        a.push("-e".into());
        a.push(sql.into());
        a
    }

    /// Runs a query and returns its rows (tab-separated columns). A server
    /// that cannot be reached is [`Error::NotFound`] (exit 5).
    pub fn query(&self, sql: &str) -> Result<Vec<Vec<String>>> {
        let out = exec::run(&self.argv(sql), None, self.timeout)?;
        if !out.ok() {
            let line = out.first_error_line();
            if line.contains("Can't connect") || line.contains("ERROR 2002") || line.contains("ERROR 2003") {
                return Err(Error::not_found(format!("the database server is not reachable: {line}")));
            }
            return Err(Error::failed(format!("query '{sql}' failed: {line}")));
        }
        Ok(out.stdout.lines().map(|l| l.split('\t').map(String::from).collect()).collect())
    }
}

/// A SQL string literal: `'` doubled, backslash escaped.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "''"))
}

/// Checks a database user name given on the command line.
pub fn parse_user(text: &str) -> std::result::Result<String, String> {
    crate::cliparse::plain_word(text, 80, "_-.$", "a database user name (letters, digits, _ - . $)")
}

#[cfg(test)]
mod tests {
    #[test]
    fn quoting() {
        assert_eq!(super::quote("a'b\\c"), "'a''b\\\\c'");
        assert!(super::parse_user("cloud").is_ok());
        assert!(super::parse_user("x'; DROP").is_err());
    }
}
