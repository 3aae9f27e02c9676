//! Durations and byte sizes as people type and read them: `2s`, `500ms`, `10m`; `256KiB`,
//! `4096`, `1M`. Used by the command line to parse options and by the room to word its
//! notices ("more than 2s behind the room"), so both read the same.

use std::time::Duration;

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h` (`1.5s` is fine), or `0`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(gochat::units::parse_duration("2s"), Ok(Duration::from_secs(2)));
/// assert_eq!(gochat::units::parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "" => return Err(format!("{text:?} needs a unit: ms, s, m or h (as in 2s)")),
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use ms, s, m or h"
            ));
        }
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (as in 2s or 500ms)"))?;
    let seconds = value * scale;
    if !seconds.is_finite() || seconds > 365.0 * 24.0 * 3600.0 {
        return Err(format!("{text:?} is too long"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Formats a duration the way [`parse_duration`] reads it, as short as it can be exact.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(gochat::units::format_duration(Duration::from_secs(2)), "2s");
/// assert_eq!(gochat::units::format_duration(Duration::from_millis(1500)), "1.5s");
/// assert_eq!(gochat::units::format_duration(Duration::from_micros(250)), "0.25ms");
/// ```
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    if d.subsec_nanos() % 1_000_000 != 0 {
        // Finer than a millisecond: a decimal, which f64 prints exactly enough to read back.
        return if d < Duration::from_secs(1) {
            format!("{}ms", d.as_nanos() as f64 / 1e6)
        } else {
            format!("{}s", d.as_secs_f64())
        };
    }
    let ms = d.as_millis();
    if ms % 3_600_000 == 0 {
        return format!("{}h", ms / 3_600_000);
    }
    if ms % 60_000 == 0 {
        return format!("{}m", ms / 60_000);
    }
    if ms % 1000 == 0 {
        return format!("{}s", ms / 1000);
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    format!("{}s", d.as_secs_f64())
}

/// Parses a byte size: a plain number, or one with `K`/`KiB`/`k` (1024), `M`/`MiB` (1024²),
/// `G`/`GiB` (1024³). An optional `B` is allowed (`64KB`).
///
/// ```
/// assert_eq!(gochat::units::parse_bytes("256KiB"), Ok(256 * 1024));
/// assert_eq!(gochat::units::parse_bytes("4096"), Ok(4096));
/// ```
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: usize = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("unknown unit {unit:?} in {text:?}: use K, M or G")),
    };
    let value: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size (as in 4096 or 256KiB)"))?;
    value
        .checked_mul(scale)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// Formats a byte size with the largest binary unit that keeps it exact.
///
/// ```
/// assert_eq!(gochat::units::format_bytes(256 * 1024), "256KiB");
/// assert_eq!(gochat::units::format_bytes(4096), "4KiB");
/// assert_eq!(gochat::units::format_bytes(1000), "1000");
/// ```
pub fn format_bytes(n: usize) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if n != 0 && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip() {
        for text in ["2s", "500ms", "10m", "1h", "1.5s", "0s"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
        }
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn durations_under_a_millisecond_are_not_zero() {
        for (d, text) in [
            (Duration::from_micros(500), "0.5ms"),
            (Duration::from_micros(1), "0.001ms"),
            (Duration::from_nanos(1), "0.000001ms"),
            (Duration::from_nanos(1_500_001), "1.500001ms"),
            (Duration::new(2, 250_000), "2.00025s"),
            (Duration::new(7, 1), "7.000000001s"),
        ] {
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(text), Ok(d), "{text} reads back");
        }
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(parse_duration("2").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("2x").unwrap_err().contains("unknown unit"));
        assert!(parse_duration("s").unwrap_err().contains("not a duration"));
        // No exponents: "e300h" is not a unit.
        assert!(
            parse_duration("1e300h")
                .unwrap_err()
                .contains("unknown unit")
        );
        // Longer than a year, or than f64 can hold.
        assert!(parse_duration("8761h").unwrap_err().contains("too long"));
        let huge = format!("1{}h", "0".repeat(400));
        assert!(parse_duration(&huge).unwrap_err().contains("too long"));
        assert_eq!(
            parse_duration("8760h"),
            Ok(Duration::from_secs(365 * 24 * 3600))
        );
    }

    #[test]
    fn sizes_round_trip() {
        for text in ["256KiB", "4MiB", "1GiB", "100"] {
            assert_eq!(format_bytes(parse_bytes(text).unwrap()), text);
        }
        assert_eq!(parse_bytes("64k"), Ok(65536));
        assert!(parse_bytes("12q").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("99999999999999999999G").is_err());
    }
}
