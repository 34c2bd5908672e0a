//! The --gfn argument: guest frame numbers as the module's half-open range.

use kvmfi::cli::parse_u64;

/// `all`, `N` or `A-B` (inclusive) as a half-open range; (0, 0) = every frame.
pub(crate) fn parse_range(text: &str) -> std::result::Result<(u64, u64), String> {
    let bad = || format!("'{text}': a guest frame number, FIRST-LAST, or all");
    if text.trim() == "all" {
        return Ok((0, 0));
    }
    let (a, b) = match text.split_once('-') {
        Some((a, b)) => (parse_u64(a).ok_or_else(bad)?, parse_u64(b).ok_or_else(bad)?),
        None => {
            let n = parse_u64(text).ok_or_else(bad)?;
            (n, n)
        }
    };
    if b < a || b == u64::MAX {
        return Err(bad());
    }
    Ok((a, b + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("all").unwrap(), (0, 0));
        assert_eq!(parse_range("0x10-0x1f").unwrap(), (0x10, 0x20));
        assert_eq!(parse_range("5").unwrap(), (5, 6));
        assert!(parse_range("9-3").is_err());
        assert!(parse_range("x").is_err());
    }
}
