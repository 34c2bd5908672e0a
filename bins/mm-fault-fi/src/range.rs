//! The --addr-range argument: START-END or START+LENGTH.

use kvmfi::cli::parse_u64;

/// An address range, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u64,
    pub end: u64,
}

fn parse_addr(text: &str) -> std::result::Result<u64, String> {
    parse_u64(&text.replace('_', "")).ok_or_else(|| format!("'{text}' is not an address (decimal or 0x hex)"))
}

/// Parses `START-END` (end exclusive) or `START+LENGTH`.
pub fn parse_range(text: &str) -> std::result::Result<Range, String> {
    let (start, end) = if let Some((a, b)) = text.split_once('+') {
        let start = parse_addr(a)?;
        let len = kvmfi::units::parse_size(b).or_else(|_| parse_addr(b))?;
        (start, start.checked_add(len).ok_or_else(|| format!("'{text}': range overflows"))?)
    } else if let Some((a, b)) = text.split_once('-') {
        (parse_addr(a)?, parse_addr(b)?)
    } else {
        return Err(format!("'{text}': use START-END (end exclusive) or START+LENGTH, e.g. 0x7f0000000000+1G"));
    };
    if start >= end {
        return Err(format!("'{text}': the range is empty (start must be below end)"));
    }
    Ok(Range { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("0x1000-0x2000").unwrap(), Range { start: 0x1000, end: 0x2000 });
        assert_eq!(parse_range("0x10000000+64k").unwrap(), Range { start: 0x1000_0000, end: 0x1001_0000 });
        assert_eq!(parse_range("4096+0x1000").unwrap(), Range { start: 4096, end: 8192 });
        assert!(parse_range("0x2000-0x1000").is_err());
        assert!(parse_range("0x2000").is_err());
        assert!(parse_range("zz-0x10").is_err());
    }
}
