//! Parsers for the value syntaxes every tool accepts (durations, sizes,
//! percentages), written once so that `--duration 30s` means the same
//! thing in every tool. They return `String` errors for clap's value_parser.

use std::time::Duration;

/// Parses `500ms`, `30s`, `5m`, `2h`, or a bare number of seconds.
/// `0`, `none` and `forever` mean "no time limit" (returned as zero).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "none" || t == "forever" {
        return Ok(Duration::ZERO);
    }
    let split = t.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a duration; use e.g. 500ms, 30s, 5m, 2h or 0 for none"))?;
    let scale = match unit {
        "" | "s" | "sec" => 1.0,
        "ms" => 1e-3,
        "us" => 1e-6,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(format!("'{text}': unknown unit '{unit}'; use ms, s, m, h or d")),
    };
    let secs = value * scale;
    if !secs.is_finite() || secs < 0.0 || secs > 365.0 * 86400.0 {
        return Err(format!("'{text}' is out of range (0 to 365d)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Parses a byte size: `4096`, `64k`, `10M`, `1G` (powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: u64 = num
        .parse()
        .map_err(|_| format!("'{text}' is not a size; use e.g. 4096, 64k, 10M, 1G"))?;
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return Err(format!("'{text}': unknown unit '{unit}'; use k, M, G or T")),
    };
    value.checked_mul(scale).ok_or_else(|| format!("'{text}' is too large"))
}

/// Parses a percentage 0-100 (a trailing `%` is allowed).
pub fn parse_percent(text: &str) -> Result<u32, String> {
    let t = text.trim().trim_end_matches('%');
    match t.parse::<u32>() {
        Ok(v) if v <= 100 => Ok(v),
        _ => Err(format!("'{text}' is not a percentage from 0 to 100")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration("forever").unwrap(), Duration::ZERO);
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes_and_percent() {
        assert_eq!(parse_size("64k").unwrap(), 65536);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert!(parse_size("99999999999999T").is_err());
        assert_eq!(parse_percent("50%").unwrap(), 50);
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("-3").is_err());
    }
}
