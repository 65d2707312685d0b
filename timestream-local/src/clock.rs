//! The time: handed to what needs it rather than read from the system there, so that one
//! place decides what "now" is.
//!
//! The bottom layer, with [`crate::record`], [`crate::error`] and [`crate::wire`]: it
//! imports none of the crate's modules.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What time it is, in nanoseconds since the epoch.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl Clock {
    /// A clock that tells `now()`'s time.
    pub fn new(now: impl Fn() -> i64 + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    /// The system's time.
    pub fn system() -> Clock {
        Clock::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos() as i64
        })
    }

    /// Nanoseconds since the epoch, as records and queries count time.
    pub fn nanos(&self) -> i64 {
        (self.0)()
    }

    /// Seconds since the epoch, as the catalog's creation and update times are given.
    pub fn seconds(&self) -> f64 {
        let nanos = self.nanos();
        // As `Duration::as_secs_f64` computes it, whole seconds apart from the rest.
        nanos.div_euclid(1_000_000_000) as f64 + nanos.rem_euclid(1_000_000_000) as f64 / 1e9
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}
