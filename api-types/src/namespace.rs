//! Namespaces as objects (`namespaces/<name>`): a job can be registered
//! only into one that exists (`default` always does). Deleting one is
//! refused while jobs live in it; it is marked `deleting` first, so a
//! registration racing the deletion either lands before the check (and
//! the deletion is refused) or is refused itself.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Namespace {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What the namespace's live allocations may reserve together;
    /// placement enforces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Being deleted: registrations into it are refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleting: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modify_time: Option<DateTime<Utc>>,
}

/// Limits on what a namespace's live allocations reserve together; a
/// missing limit is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// MHz (whole cores count at their node's MHz per core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<i64>,
    /// MB reserved (`memory`, not `memory_max`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<i64>,
    /// Allocations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocations: Option<i64>,
}

/// What a namespace's allocations reserve, or what one allocation asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuotaUse {
    /// MHz.
    pub cpu: i64,
    /// MB.
    pub memory: i64,
    pub allocations: i64,
}

impl QuotaUse {
    pub fn add(&mut self, other: QuotaUse) {
        self.cpu += other.cpu;
        self.memory += other.memory;
        self.allocations += other.allocations;
    }

    pub fn sub(&mut self, other: QuotaUse) {
        self.cpu -= other.cpu;
        self.memory -= other.memory;
        self.allocations -= other.allocations;
    }
}

impl Quota {
    /// The largest value a limit may take (so sums cannot overflow).
    pub const MAX_LIMIT: i64 = 1 << 40;

    pub fn is_empty(&self) -> bool {
        self.cpu.is_none() && self.memory.is_none() && self.allocations.is_none()
    }

    /// Why these limits cannot be used, if they cannot.
    pub fn invalid(&self) -> Option<String> {
        self.dimensions()
            .into_iter()
            .find_map(|(name, limit, unit)| match limit {
                Some(n) if !(0..=Self::MAX_LIMIT).contains(&n) => Some(format!(
                    "quota {name} must be between 0 and {} {unit}",
                    Self::MAX_LIMIT
                )),
                _ => None,
            })
    }

    /// Parses `cpu=4000,memory=4096,allocs=20` (any subset; `none`, or
    /// an empty string, is no limit at all).
    pub fn parse(text: &str) -> Result<Quota, String> {
        let mut quota = Quota::default();
        let text = text.trim();
        if text.is_empty() || text == "none" {
            return Ok(quota);
        }
        for pair in text.split(',') {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                format!("quota {pair:?}: expected KEY=VALUE, e.g. cpu=4000,memory=4096,allocs=20")
            })?;
            let value: i64 = value
                .trim()
                .parse()
                .map_err(|_| format!("quota {pair:?}: {value:?} is not a whole number"))?;
            let slot = match key.trim() {
                "cpu" => &mut quota.cpu,
                "memory" => &mut quota.memory,
                "allocs" | "allocations" => &mut quota.allocations,
                other => {
                    return Err(format!(
                        "quota {pair:?}: unknown limit {other:?}; the limits are cpu (MHz), memory (MB) and allocs"
                    ))
                }
            };
            *slot = Some(value);
        }
        match quota.invalid() {
            Some(problem) => Err(problem),
            None => Ok(quota),
        }
    }

    /// Why `ask` does not fit on top of `used` in namespace `namespace`,
    /// naming the first limit it passes: `quota web exhausted: memory
    /// 3968/4096 MB used, 256 MB asked`.
    pub fn exceeded(&self, namespace: &str, used: &QuotaUse, ask: &QuotaUse) -> Option<String> {
        let asked = [ask.cpu, ask.memory, ask.allocations];
        let held = [used.cpu, used.memory, used.allocations];
        self.dimensions()
            .into_iter()
            .zip(held.into_iter().zip(asked))
            .find_map(|((name, limit, unit), (held, asked))| {
                let limit = limit?;
                (asked > 0 && held.saturating_add(asked) > limit).then(|| {
                    let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
                    format!(
                        "quota {namespace} exhausted: {name} {held}/{limit}{unit} used, {asked}{unit} asked"
                    )
                })
            })
    }

    /// `cpu 1200/4000 MHz, memory 512/4096 MB, allocations 3/20`; a
    /// dimension without a limit shows what is used only.
    pub fn describe(&self, used: &QuotaUse) -> Vec<String> {
        let held = [used.cpu, used.memory, used.allocations];
        self.dimensions()
            .into_iter()
            .zip(held)
            .map(|((name, limit, unit), held)| {
                let unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" {unit}")
                };
                match limit {
                    Some(limit) => format!("{name} {held}/{limit}{unit}"),
                    None => format!("{name} {held}{unit} (no limit)"),
                }
            })
            .collect()
    }

    /// (name, limit, unit) per dimension.
    fn dimensions(&self) -> [(&'static str, Option<i64>, &'static str); 3] {
        [
            ("cpu", self.cpu, "MHz"),
            ("memory", self.memory, "MB"),
            ("allocations", self.allocations, ""),
        ]
    }
}

/// The flag form `cpu=4000,memory=4096,allocs=20` ([`Quota::parse`] reads
/// it back); `none` when nothing is limited.
impl std::fmt::Display for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pairs: Vec<String> = [
            ("cpu", self.cpu),
            ("memory", self.memory),
            ("allocs", self.allocations),
        ]
        .into_iter()
        .filter_map(|(key, limit)| limit.map(|n| format!("{key}={n}")))
        .collect();
        if pairs.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&pairs.join(","))
        }
    }
}

/// The longest namespace name.
pub const MAX_NAME_LEN: usize = 128;

/// Why `name` cannot name a namespace, if it cannot.
pub fn invalid_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        && name != "*";
    (!ok).then(|| {
        format!("namespace {name:?} must be 1 to {MAX_NAME_LEN} letters, digits, '-' or '_'")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_names_the_first_limit_an_ask_passes() {
        let quota = Quota {
            cpu: None,
            memory: Some(4096),
            allocations: Some(3),
        };
        let used = QuotaUse {
            cpu: 9000,
            memory: 3968,
            allocations: 2,
        };
        let small = QuotaUse {
            cpu: 500,
            memory: 128,
            allocations: 1,
        };
        assert_eq!(
            quota.exceeded("web", &used, &small),
            None,
            "cpu has no limit"
        );
        let big = QuotaUse {
            memory: 256,
            ..small
        };
        assert_eq!(
            quota.exceeded("web", &used, &big).as_deref(),
            Some("quota web exhausted: memory 3968/4096 MB used, 256 MB asked")
        );
        let third = QuotaUse {
            allocations: 1,
            ..Default::default()
        };
        let full = QuotaUse {
            allocations: 3,
            ..used
        };
        assert_eq!(
            quota.exceeded("web", &full, &third).as_deref(),
            Some("quota web exhausted: allocations 3/3 used, 1 asked")
        );
        // A credit (a replacement taking its predecessor's share) never fails.
        let credit = QuotaUse {
            cpu: -1,
            memory: -1,
            allocations: 0,
        };
        assert_eq!(quota.exceeded("web", &full, &credit), None);
        assert_eq!(
            quota.describe(&used),
            [
                "cpu 9000 MHz (no limit)",
                "memory 3968/4096 MB",
                "allocations 2/3"
            ]
        );
    }

    #[test]
    fn quotas_parse_from_flags() {
        assert_eq!(
            Quota::parse("cpu=4000, memory=4096,allocs=20"),
            Ok(Quota {
                cpu: Some(4000),
                memory: Some(4096),
                allocations: Some(20)
            })
        );
        assert_eq!(Quota::parse("none"), Ok(Quota::default()));
        for text in ["cpu=4000,memory=4096,allocs=20", "memory=1", "none"] {
            assert_eq!(
                Quota::parse(text).map(|q| q.to_string()).as_deref(),
                Ok(text)
            );
        }
        for bad in ["memory", "memory=4G", "disk=10", "allocs=-1"] {
            assert!(Quota::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quota_limits_are_bounded() {
        assert!(Quota::default().invalid().is_none());
        let negative = Quota {
            memory: Some(-1),
            ..Default::default()
        };
        assert!(negative.invalid().unwrap_or_default().contains("memory"));
        let huge = Quota {
            cpu: Some(Quota::MAX_LIMIT + 1),
            ..Default::default()
        };
        assert!(huge.invalid().is_some());
    }

    #[test]
    fn names_are_plain() {
        assert!(invalid_name("web-prod_2").is_none());
        for bad in ["", "*", "a/b", "a b", "é"] {
            assert!(invalid_name(bad).is_some(), "{bad:?}");
        }
        assert!(invalid_name(&"x".repeat(MAX_NAME_LEN + 1)).is_some());
    }
}
