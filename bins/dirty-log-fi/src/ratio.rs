//! The --drop-ratio and --add-ratio arguments, as the module's parts per million.

use kvmfi::request::dirty_log;

const PPM: f64 = dirty_log::PPM as f64;

/// `0.25`, `25%` or `1/4` as parts per million (1..=1000000).
pub(crate) fn parse_ratio(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let value = if let Some(p) = t.strip_suffix('%') {
        p.trim().parse::<f64>().map(|v| v / 100.0)
    } else if let Some((a, b)) = t.split_once('/') {
        match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) if b != 0.0 => Ok(a / b),
            _ => return Err(format!("'{text}': not a ratio")),
        }
    } else {
        t.parse::<f64>()
    }
    .map_err(|_| format!("'{text}': not a ratio (0.25, 25% or 1/4)"))?;
    let ppm = (value * PPM).round();
    if !(1.0..=PPM).contains(&ppm) {
        return Err(format!("'{text}': the ratio must be above 0 and at most 1"));
    }
    Ok(ppm as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("0.25").unwrap(), 250_000);
        assert_eq!(parse_ratio("25%").unwrap(), 250_000);
        assert_eq!(parse_ratio("1/4").unwrap(), 250_000);
        assert_eq!(parse_ratio("1").unwrap(), 1_000_000);
        assert!(parse_ratio("0").is_err());
        assert!(parse_ratio("1.5").is_err());
        assert!(parse_ratio("x").is_err());
    }
}
