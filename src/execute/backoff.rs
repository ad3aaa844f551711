//! Retry delays: capped exponential backoff with "equal jitter" (half the delay fixed, half
//! random), so many nodes retrying a shared service do not retry in lockstep.
//!
//! With the defaults (base 1 s, cap 60 s):
//!
//! | attempt | delay before it |
//! |--------:|----------------:|
//! | 1       | 0.5 – 1 s       |
//! | 2       | 1 – 2 s         |
//! | 3       | 2 – 4 s         |
//! | 4       | 4 – 8 s         |
//! | 5       | 8 – 16 s        |
//! | 7+      | 30 – 60 s       |

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before retry `attempt` (1-based); `unit` in [0, 1) picks the jitter.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exp = self.base.saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1).min(30))
                .unwrap_or(u32::MAX),
        );
        let d = exp.min(self.cap);
        d / 2 + d.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_doubles_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(500));
        assert_eq!(
            b.delay(1, 0.999_999),
            Duration::from_millis(999) + Duration::from_nanos(999_500)
        );
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay(10, 0.0), Duration::from_secs(30));
        assert_eq!(b.delay(100, 0.5), Duration::from_secs(45));
    }
}
