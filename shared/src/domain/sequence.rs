//! The recovery sequence: when each email is due.

use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;

/// Default delays after the last cart activity: 1 hour, 24 hours and 72 hours.
pub const DEFAULT_DELAYS_SECONDS: [i64; 3] = [3_600, 86_400, 259_200];

/// At most one recovery email per shopper per store in this many seconds (16 hours).
pub const FREQUENCY_CAP_SECONDS: i64 = 16 * 3_600;

/// Delays of each step after the last cart activity, in seconds, strictly increasing.
///
/// Every time is a UTC instant, so a daylight-saving change in the store's time zone never
/// shifts a send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<i64>", into = "Vec<i64>")]
pub struct Sequence(Vec<i64>);

/// Reason a sequence was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("sequence delays must be 1 to 10 strictly increasing positive numbers of seconds")]
pub struct InvalidSequence;

impl Sequence {
    /// Most steps a store may configure.
    pub const MAX_STEPS: usize = 10;

    /// Validates a list of delays in seconds.
    pub fn new(delays: Vec<i64>) -> Result<Self, InvalidSequence> {
        let increasing = delays.windows(2).all(|w| w[0] < w[1]);
        let positive = delays.iter().all(|&d| d > 0);
        if delays.is_empty() || delays.len() > Self::MAX_STEPS || !increasing || !positive {
            return Err(InvalidSequence);
        }
        Ok(Self(delays))
    }

    /// Returns the number of steps.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns true when the sequence has no steps (never, once validated).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns when step `step` (0-based) is due for a cart last active at `last_activity`, or
    /// `None` past the last step.
    pub fn due_at(&self, step: usize, last_activity: UnixSeconds) -> Option<UnixSeconds> {
        self.0.get(step).map(|delay| last_activity + delay)
    }

    /// Returns the delays in seconds.
    pub fn delays(&self) -> &[i64] {
        &self.0
    }
}

impl Default for Sequence {
    fn default() -> Self {
        Self(DEFAULT_DELAYS_SECONDS.to_vec())
    }
}

impl TryFrom<Vec<i64>> for Sequence {
    type Error = InvalidSequence;
    fn try_from(value: Vec<i64>) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Sequence> for Vec<i64> {
    fn from(value: Sequence) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_one_day_and_three_days_after_one_hour() {
        let sequence = Sequence::default();
        assert_eq!(sequence.due_at(0, 1_000), Some(1_000 + 3_600));
        assert_eq!(sequence.due_at(1, 1_000), Some(1_000 + 86_400));
        assert_eq!(sequence.due_at(2, 1_000), Some(1_000 + 259_200));
        assert_eq!(sequence.due_at(3, 1_000), None);
    }

    #[test]
    fn rejects_unordered_or_empty_delays() {
        assert!(Sequence::new(vec![]).is_err());
        assert!(Sequence::new(vec![60, 60]).is_err());
        assert!(Sequence::new(vec![0, 60]).is_err());
        assert!(Sequence::new(vec![60; 11]).is_err());
        assert!(Sequence::new(vec![60, 120]).is_ok());
    }
}
