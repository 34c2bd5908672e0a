//! errno names both ways: `EIO` <-> 5, as users write them on command lines.

use nix::errno::Errno;

/// Highest errno number the kernel defines on the supported architectures.
const MAX_ERRNO: i32 = 133;

/// The symbolic name of an errno value (`5` -> `"EIO"`).
pub fn name(value: i32) -> String {
    if (1..=MAX_ERRNO).contains(&value) {
        let name = format!("{:?}", Errno::from_raw(value));
        if name.starts_with('E') {
            return name;
        }
    }
    format!("errno {value}")
}

/// Parses `EIO`, `eio`, `-EIO`, `5` or `-5` into a positive errno value.
pub fn parse(text: &str) -> Result<i32, String> {
    let t = text.trim().trim_start_matches('-');
    if let Ok(n) = t.parse::<i32>() {
        if (1..=4095).contains(&n) {
            return Ok(n);
        }
        return Err(format!("errno '{text}' is out of range (1 to 4095)"));
    }
    let upper = t.to_ascii_uppercase();
    (1..=MAX_ERRNO)
        .find(|&v| format!("{:?}", Errno::from_raw(v)) == upper)
        .ok_or_else(|| format!("'{text}' is not an errno name; use e.g. EIO, ENOSPC, EPERM or a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways() {
        assert_eq!(parse("EIO").unwrap(), libc::EIO);
        assert_eq!(parse("enospc").unwrap(), libc::ENOSPC);
        assert_eq!(parse("-EPERM").unwrap(), libc::EPERM);
        assert_eq!(parse("30").unwrap(), 30);
        assert_eq!(name(libc::EROFS), "EROFS");
        assert_eq!(name(libc::EINTR), "EINTR");
        assert!(parse("EWHATEVER").is_err());
        assert!(parse("0").is_err());
        assert!(parse("99999").is_err());
    }
}
