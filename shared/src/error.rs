//! One error type for every tool, with documented exit codes.
//!
//! Exit codes (documented in every man page under EXIT STATUS):
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success (also: output pipe closed by the reader) |
//! | 1 | the operation failed at run time (kernel or command refused it) |
//! | 2 | usage error: bad option, argument or configuration; nothing was changed |
//! | 3 | permission denied: needs root / CAP_SYS_ADMIN |
//! | 4 | unsupported here: kernel symbol, module or host tool missing |
//! | 5 | target not found: process, daemon or device is not there |
//! | 6 | kvmfi is halted (`kvmfi-halt`): nothing is armed until `--release` |

use std::fmt;
use std::io;

/// Result alias used across the toolbox.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every failure a tool can report, each mapped to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad user input. Nothing was changed.
    #[error("{0}")]
    Usage(String),
    /// The caller lacks the privilege the operation needs.
    #[error("{0}")]
    Permission(String),
    /// The host cannot do this (kernel symbol, module or tool missing).
    #[error("{0}")]
    Unsupported(String),
    /// The target (process, daemon, device) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A system call failed; `context` says what was being done.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    /// Anything else that failed at run time.
    #[error("{0}")]
    Failed(String),
    /// The halt flag is set: nothing may be armed or applied.
    #[error("{0}")]
    Halted(String),
}

impl Error {
    /// The process exit status for this error.
    pub fn code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Permission(_) => 3,
            Error::Unsupported(_) => 4,
            Error::NotFound(_) => 5,
            Error::Io { source, .. } => match source.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => 3,
                _ => 1,
            },
            Error::Failed(_) => 1,
            Error::Halted(_) => 6,
        }
    }

    /// Wraps an `io::Error` with what was being attempted.
    pub fn io(context: impl fmt::Display, source: io::Error) -> Self {
        Error::Io { context: context.to_string(), source }
    }

    /// Shorthand constructors, so call sites read as sentences.
    pub fn usage(msg: impl fmt::Display) -> Self {
        Error::Usage(msg.to_string())
    }
    pub fn failed(msg: impl fmt::Display) -> Self {
        Error::Failed(msg.to_string())
    }
    pub fn unsupported(msg: impl fmt::Display) -> Self {
        Error::Unsupported(msg.to_string())
    }
    pub fn not_found(msg: impl fmt::Display) -> Self {
        Error::NotFound(msg.to_string())
    }
    pub fn permission(msg: impl fmt::Display) -> Self {
        Error::Permission(msg.to_string())
    }

    /// True when the error is a write to a pipe whose reader went away.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Error::Io { context: "I/O error".into(), source }
    }
}

/// Turns a libc-style `-1` return into the thread's last OS error.
pub fn cvt<T: PartialOrd + Default>(ret: T, context: impl fmt::Display) -> Result<T> {
    if ret < T::default() {
        Err(Error::io(context, io::Error::last_os_error()))
    } else {
        Ok(ret)
    }
}

/// Fails with a permission error naming the tool when not run as root.
pub fn require_root(what: &str) -> Result<()> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(Error::permission(format!(
            "{what} needs root (CAP_SYS_ADMIN); run it with sudo or as root"
        )))
    }
}
