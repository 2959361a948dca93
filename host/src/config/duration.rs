//! Durations written the Synapse way: a number of milliseconds, or a string
//! such as `"30s"`, `"5m"`, `"1h"`, `"2d"`, `"1w"`, `"1y"`.

use serde::{Deserialize, Deserializer, de};

/// A duration in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationMs(pub u64);

impl<'de> Deserialize<'de> for DurationMs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Number(ms) => Ok(Self(ms)),
            Raw::Text(text) => parse(&text).map(Self).map_err(de::Error::custom),
        }
    }
}

fn parse(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("{text:?} is not a duration (e.g. 500, \"30s\", \"5m\", \"1h\")"))?;
    let factor: u64 = match unit {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        "y" => 365 * 86_400_000,
        _ => return Err(format!("{text:?} has an unknown unit {unit:?} (use ms, s, m, h, d, w or y)")),
    };
    number.checked_mul(factor).ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn units() {
        assert_eq!(parse("250"), Ok(250));
        assert_eq!(parse("30s"), Ok(30_000));
        assert_eq!(parse("5m"), Ok(300_000));
        assert_eq!(parse("1h"), Ok(3_600_000));
        assert!(parse("5 minutes").is_err());
        assert!(parse("m").is_err());
    }
}
