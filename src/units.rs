//! Human-readable durations (`30d`, `10m`, `1h30m`) and sizes (`8MiB`) for flags and `campctl.toml`; times of day
//! and time zone names (`clock.rs`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod clock;
pub use clock::{TimeOfDay, TimeZoneName};

/// A duration written as `<number><unit>` pairs: `ms`, `s`, `m`, `h`, `d`, `w` (e.g. `1h30m`, `30d`, `0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// A byte size: a number with an optional unit `B`, `KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`, `TB`, `TiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UnitError {
    #[error("invalid duration `{0}`: use a number and a unit (ms, s, m, h, d, w), e.g. `30d`, `10m` or `1h30m`")]
    Duration(String),
    #[error("invalid size `{0}`: use a number and a unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB), e.g. `8MiB`")]
    Size(String),
}

impl FromStr for HumanDuration {
    type Err = UnitError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || UnitError::Duration(input.to_string());
        let text = input.trim();
        if text == "0" {
            return Ok(Self(Duration::ZERO));
        }
        if text.is_empty() {
            return Err(err());
        }
        let mut total = Duration::ZERO;
        let mut rest = text;
        while !rest.is_empty() {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if digits == 0 {
                return Err(err());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| err())?;
            rest = &rest[digits..];
            let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let part = match unit {
                "ms" => Duration::from_millis(number),
                "s" => Duration::from_secs(number),
                "m" | "min" => Duration::from_secs(number.checked_mul(60).ok_or_else(err)?),
                "h" => Duration::from_secs(number.checked_mul(3600).ok_or_else(err)?),
                "d" => Duration::from_secs(number.checked_mul(86_400).ok_or_else(err)?),
                "w" => Duration::from_secs(number.checked_mul(604_800).ok_or_else(err)?),
                _ => return Err(err()),
            };
            total = total.checked_add(part).ok_or_else(err)?;
        }
        Ok(Self(total))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis == 0 {
            return f.write_str("0");
        }
        if !millis.is_multiple_of(1000)
            && let Ok(millis) = u64::try_from(millis)
        {
            return write!(f, "{millis}ms");
        }
        let mut secs = self.0.as_secs();
        for (unit, size) in [("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if secs >= size {
                write!(f, "{}{unit}", secs / size)?;
                secs %= size;
            }
        }
        // Only when the milliseconds alone overflow a u64 (found by `fuzz_duration_display_round_trips`): the
        // units above, then the rest, so that the text parses back.
        match self.0.subsec_millis() {
            0 => Ok(()),
            rest => write!(f, "{rest}ms"),
        }
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = || UnitError::Size(input.to_string());
        let text = input.trim();
        let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
        if split == 0 {
            return Err(err());
        }
        let number: u64 = text[..split].parse().map_err(|_| err())?;
        let multiplier: u64 = match text[split..].trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "kb" => 1000,
            "kib" | "k" => 1 << 10,
            "mb" => 1_000_000,
            "mib" | "m" => 1 << 20,
            "gb" => 1_000_000_000,
            "gib" | "g" => 1 << 30,
            "tb" => 1_000_000_000_000,
            "tib" | "t" => 1 << 40,
            _ => return Err(err()),
        };
        number.checked_mul(multiplier).map(Self).ok_or_else(err)
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [
            ("TiB", 1u64 << 40),
            ("GiB", 1 << 30),
            ("MiB", 1 << 20),
            ("KiB", 1 << 10),
        ] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

/// Formats a byte count for people: `1.5 MiB`.
pub fn format_bytes(bytes: i64) -> String {
    let negative = bytes < 0;
    let mut value = bytes.unsigned_abs() as f64;
    let mut unit = "B";
    for next in ["KiB", "MiB", "GiB", "TiB", "PiB"] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    let sign = if negative { "-" } else { "" };
    if unit == "B" {
        format!("{sign}{value:.0} B")
    } else {
        format!("{sign}{value:.1} {unit}")
    }
}

/// Formats seconds for people: `45s`, `12m 05s`, `3h 02m`, `4d 07h`.
pub fn format_seconds(seconds: f64) -> String {
    if seconds < 10.0 {
        return format!("{seconds:.1}s");
    }
    let secs = seconds.round() as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

macro_rules! serde_via_str {
    ($ty:ty, $expecting:literal) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)
                    .map_err(|_| serde::de::Error::custom(concat!("expected ", $expecting, " as a string")))?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

serde_via_str!(HumanDuration, "a duration such as \"10m\"");
serde_via_str!(ByteSize, "a size such as \"8MiB\"");

#[cfg(test)]
pub(crate) mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let parse = |s: &str| s.parse::<HumanDuration>().map(|d| d.0.as_secs());
        assert_eq!(parse("30d"), Ok(30 * 86_400));
        assert_eq!(parse("10m"), Ok(600));
        assert_eq!(parse("1h30m"), Ok(5400));
        assert_eq!(parse("0"), Ok(0));
        assert!(parse("10").is_err());
        assert!(parse("10x").is_err());
        assert!(parse("").is_err());
        assert!(parse("m").is_err());
        assert_eq!(
            "1500ms".parse::<HumanDuration>().map(|d| d.to_string()),
            Ok("1500ms".into())
        );
        assert_eq!(
            "90m".parse::<HumanDuration>().map(|d| d.to_string()),
            Ok("1h30m".into())
        );
    }

    /// Found by `fuzz_duration_display_round_trips`: more milliseconds than a u64 holds were shown as `<millis>ms`,
    /// which does not parse back.
    #[test]
    fn fuzz_duration_regression_huge_value_with_milliseconds_parses_back() {
        let duration = HumanDuration(Duration::from_secs(u64::MAX) + Duration::from_millis(1));
        let shown = duration.to_string();
        assert!(shown.ends_with("15s1ms"), "{shown}");
        assert_eq!(shown.parse(), Ok(duration));
    }

    #[test]
    fn sizes() {
        assert_eq!("8MiB".parse(), Ok(ByteSize(8 << 20)));
        assert_eq!("8 mb".parse(), Ok(ByteSize(8_000_000)));
        assert_eq!("1024".parse(), Ok(ByteSize(1024)));
        assert!("8XB".parse::<ByteSize>().is_err());
        assert!("MiB".parse::<ByteSize>().is_err());
        assert_eq!(ByteSize(8 << 20).to_string(), "8MiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_seconds(3725.0), "1h 02m");
    }
}
