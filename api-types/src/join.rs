//! Join tokens as stored (`join-tokens/<sha256 of the secret>`), and the
//! rule for using one (pure).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Longest a join token may live.
pub const MAX_JOIN_TOKEN_TTL_SECS: u64 = 7 * 24 * 3600;
/// Most nodes one token may let join.
pub const MAX_JOIN_TOKEN_USES: u32 = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinToken {
    pub expires_at: DateTime<Utc>,
    /// Joins left; the token is deleted with its last.
    pub uses_left: u32,
    #[serde(default)]
    pub description: String,
}

/// What one join does to the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinUse {
    /// Keep it with one use fewer.
    Keep(JoinToken),
    /// That was its last use: delete it.
    Spent,
}

impl JoinToken {
    /// Uses the token at `now`, or says why it cannot be used.
    pub fn spend(&self, now: DateTime<Utc>) -> Result<JoinUse, &'static str> {
        if self.expires_at <= now {
            return Err("the join token has expired");
        }
        match self.uses_left {
            0 => Err("the join token has been used up"),
            1 => Ok(JoinUse::Spent),
            n => Ok(JoinUse::Keep(JoinToken {
                uses_left: n - 1,
                ..self.clone()
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(uses_left: u32, expires_in: i64) -> (JoinToken, DateTime<Utc>) {
        let now = DateTime::from_timestamp(1_000_000, 0).expect("time");
        let t = JoinToken {
            expires_at: now + chrono::Duration::seconds(expires_in),
            uses_left,
            description: String::new(),
        };
        (t, now)
    }

    #[test]
    fn a_token_is_spent_once_per_use_and_not_after_it_expires() {
        let (t, now) = token(2, 60);
        let JoinUse::Keep(left) = t.spend(now).expect("first") else {
            panic!("two uses: one left");
        };
        assert_eq!(left.uses_left, 1);
        assert_eq!(left.spend(now), Ok(JoinUse::Spent));
        let (expired, now) = token(5, 0);
        assert_eq!(expired.spend(now), Err("the join token has expired"));
        let (empty, now) = token(0, 60);
        assert!(empty.spend(now).is_err());
    }
}
