//! Go-style durations (`"30s"`, `"1h30m"`, `"250ms"`), as Nomad job files write them.
//!
//! Serialized as the canonical string so YAML round-trips read naturally; a bare
//! integer is accepted on input as nanoseconds, the unit of Nomad's JSON API.

use std::fmt;
use std::time::Duration as StdDuration;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub StdDuration);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason} (write e.g. \"30s\", \"5m\", \"1h30m\", \"250ms\")")]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

impl Duration {
    pub const ZERO: Duration = Duration(StdDuration::ZERO);

    pub const fn from_secs(secs: u64) -> Self {
        Duration(StdDuration::from_secs(secs))
    }

    pub const fn from_millis(ms: u64) -> Self {
        Duration(StdDuration::from_millis(ms))
    }

    pub fn as_std(self) -> StdDuration {
        self.0
    }

    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// Parses Go's `time.ParseDuration` syntax: a sequence of decimal numbers,
    /// each with a unit among ns, us (µs), ms, s, m, h. A lone `0` is allowed.
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let err = |reason| DurationError {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("empty"));
        }
        if s.starts_with('-') {
            return Err(err("negative durations are not allowed"));
        }
        let s = s.strip_prefix('+').unwrap_or(s);
        if s == "0" {
            return Ok(Duration::ZERO);
        }
        let mut total_nanos: u128 = 0;
        let mut rest = s;
        while !rest.is_empty() {
            let num_len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .ok_or_else(|| err("missing unit"))?;
            if num_len == 0 {
                return Err(err("expected a number"));
            }
            let number = &rest[..num_len];
            rest = &rest[num_len..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit() || c == '.')
                .unwrap_or(rest.len());
            let scale: u128 = match &rest[..unit_len] {
                "ns" => 1,
                "us" | "µs" | "μs" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                _ => return Err(err("unknown unit (use ns, us, ms, s, m or h)")),
            };
            rest = &rest[unit_len..];
            total_nanos = total_nanos
                .checked_add(scaled(number, scale).ok_or_else(|| err("malformed number"))?)
                .ok_or_else(|| err("too large"))?;
        }
        let nanos = u64::try_from(total_nanos).map_err(|_| err("too large"))?;
        Ok(Duration(StdDuration::from_nanos(nanos)))
    }
}

/// `number × scale` in integer arithmetic, so long durations stay exact;
/// fractions finer than a nanosecond are truncated as Go does.
fn scaled(number: &str, scale: u128) -> Option<u128> {
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if (whole.is_empty() && frac.is_empty()) || frac.contains('.') {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut result = whole.checked_mul(scale)?;
    let mut unit = scale;
    for digit in frac.chars() {
        unit /= 10;
        result = result.checked_add(u128::from(digit.to_digit(10)?) * unit)?;
    }
    Some(result)
}

impl fmt::Display for Duration {
    /// The shortest exact form in h/m/s/ms/us/ns, e.g. `1h30m`, `90s` → `1m30s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        const UNITS: [(&str, u128); 6] = [
            ("h", 3_600_000_000_000),
            ("m", 60_000_000_000),
            ("s", 1_000_000_000),
            ("ms", 1_000_000),
            ("us", 1_000),
            ("ns", 1),
        ];
        for (unit, size) in UNITS {
            if nanos >= size {
                write!(f, "{}{}", nanos / size, unit)?;
                nanos %= size;
            }
        }
        Ok(())
    }
}

impl From<StdDuration> for Duration {
    fn from(d: StdDuration) -> Self {
        Duration(d)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as \"30s\" or \"1h30m\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                Ok(Duration(StdDuration::from_nanos(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                u64::try_from(v)
                    .map(|n| Duration(StdDuration::from_nanos(n)))
                    .map_err(|_| E::custom("negative durations are not allowed"))
            }
        }
        d.deserialize_any(Visitor)
    }
}

/// On the wire a duration is a string in Go's syntax (`"30s"`, `"1h30m"`),
/// and so it is in the OpenAPI document.
impl utoipa::PartialSchema for Duration {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A duration: a number and a unit, e.g. \"30s\", \"5m\", \"1h30m\", \"250ms\".",
            ))
            .examples([serde_json::json!("30s")])
            .into()
    }
}

impl utoipa::ToSchema for Duration {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_syntax() {
        let cases = [
            ("30s", 30_000_000_000u128),
            ("1h30m", 5_400_000_000_000),
            ("250ms", 250_000_000),
            ("1.5s", 1_500_000_000),
            ("0", 0),
            ("2h0m0s", 7_200_000_000_000),
            ("10us", 10_000),
        ];
        for (input, nanos) in cases {
            assert_eq!(
                Duration::parse(input).map(|d| d.0.as_nanos()),
                Ok(nanos),
                "{input}"
            );
        }
    }

    #[test]
    fn rejects_bad_input() {
        for bad in ["", "10", "5x", "-5s", "s", "1h-3m"] {
            assert!(Duration::parse(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn displays_shortest_exact_form() {
        assert_eq!(Duration::from_secs(90).to_string(), "1m30s");
        assert_eq!(Duration::from_secs(3600).to_string(), "1h");
        assert_eq!(Duration::from_millis(1500).to_string(), "1s500ms");
        assert_eq!(Duration::ZERO.to_string(), "0s");
    }

    proptest::proptest! {
        #[test]
        fn display_then_parse_is_identity(nanos in 0u64..10_000_000_000_000_000) {
            let d = Duration(StdDuration::from_nanos(nanos));
            proptest::prop_assert_eq!(Duration::parse(&d.to_string()), Ok(d));
        }
    }
}
