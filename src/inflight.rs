//! Bounds on the work in flight, so that overload is answered, not queued.
//!
//! Past a bound a write is refused at once (503 with Retry-After): Prometheus backs off
//! and keeps the samples in its WAL, where queueing would only grow the connector's
//! memory and every request's latency. Two bounds: write requests in flight (CPU, file
//! descriptors, calls to Timestream) and bytes in flight (memory: a request's body and
//! what it decodes to). A request also has a deadline, so that a slow client or a
//! trickling body cannot hold its share forever; and when the daemon drains on
//! SIGTERM, what cannot finish in time is cut off with the same answer.
//!
//! Semaphores and counts: the HTTP layer ([`crate::http`]) applies them.

use std::sync::Arc;
use std::time::Duration;

use metrics::counter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::telemetry;

/// How much a request holds in memory per byte of its decoded body: the decoded bytes,
/// the plan and the WriteRecords requests built from them (measured on the fixtures:
/// about 3×; 4 leaves room).
pub const FOOTPRINT_PER_DECODED_BYTE: usize = 4;

/// What is bounded, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    pub max_requests: usize,
    pub max_bytes: usize,
    pub request_timeout: Duration,
}

/// Which bound a refused request met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("the connector is at its limit of {0} write requests in flight; retry later")]
    Requests(usize),
    #[error("the connector is at its limit of {0} bytes in flight; retry later")]
    Bytes(usize),
    /// One request alone needs more than the whole bound: retrying cannot help.
    #[error("the request needs {needed} bytes in flight, more than the connector's limit of {limit} (--max-bytes-in-flight): send smaller requests")]
    TooLarge { needed: usize, limit: usize },
}

impl Busy {
    /// Bounded label value for telemetry.
    pub fn kind(self) -> &'static str {
        match self {
            Busy::Requests(_) => "busy_requests",
            Busy::Bytes(_) => "busy_bytes",
            Busy::TooLarge { .. } => "too_large",
        }
    }
}

/// The shared counters of work in flight.
pub struct InFlight {
    bounds: Bounds,
    requests: Arc<Semaphore>,
    bytes: Arc<Semaphore>,
    /// Set once the drain's deadline has passed: requests still running are cut off.
    cut_off: tokio::sync::watch::Sender<bool>,
}

/// Work admitted; released when dropped.
#[derive(Debug)]
pub struct Permit(#[allow(dead_code)] OwnedSemaphorePermit);

impl InFlight {
    pub fn new(bounds: Bounds) -> Self {
        InFlight {
            bounds,
            requests: Arc::new(Semaphore::new(bounds.max_requests)),
            bytes: Arc::new(Semaphore::new(bounds.max_bytes)),
            cut_off: tokio::sync::watch::channel(false).0,
        }
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Admits one more write request, or says it is one too many.
    pub fn request(&self) -> Result<Permit, Busy> {
        self.requests
            .clone()
            .try_acquire_owned()
            .map(Permit)
            .map_err(|_| refused(Busy::Requests(self.bounds.max_requests)))
    }

    /// Admits `bytes` more bytes of memory, or says they are too many now, or (more than
    /// the whole bound) ever.
    pub fn bytes(&self, bytes: usize) -> Result<Permit, Busy> {
        let limit = self.bounds.max_bytes;
        let too_large = Busy::TooLarge {
            needed: bytes,
            limit,
        };
        if bytes > limit {
            return Err(refused(too_large));
        }
        let busy = Busy::Bytes(limit);
        let bytes = u32::try_from(bytes.max(1)).map_err(|_| refused(too_large))?;
        self.bytes
            .clone()
            .try_acquire_many_owned(bytes)
            .map(Permit)
            .map_err(|_| refused(busy))
    }

    /// Write requests in flight now.
    pub fn requests_in_flight(&self) -> usize {
        self.bounds.max_requests - self.requests.available_permits()
    }

    /// Bytes in flight now.
    pub fn bytes_in_flight(&self) -> usize {
        self.bounds.max_bytes - self.bytes.available_permits()
    }

    /// Cuts off every request still running (the drain's deadline passed).
    pub fn cut_off(&self) {
        self.cut_off.send_replace(true);
    }

    /// Completes once requests are cut off.
    pub async fn cut(&self) {
        let mut cut = self.cut_off.subscribe();
        let _ = cut.wait_for(|cut| *cut).await;
    }
}

/// Counts a refusal.
fn refused(busy: Busy) -> Busy {
    counter!(telemetry::ERRORS, "stage" => "admit", "kind" => busy.kind()).increment(1);
    busy
}

/// The default bound on bytes in flight: a quarter of the memory this process may use
/// (its cgroup's limit in a container, else the machine's), at least 64 MiB and at most
/// 4 GiB; 1 GiB where neither can be read.
pub fn default_max_bytes() -> usize {
    const MIB: usize = 1 << 20;
    memory_limit().map_or(1024 * MIB, |memory| {
        (memory / 4).clamp(64 * MIB, 4096 * MIB)
    })
}

/// The memory this process may use: the cgroup v2 or v1 limit, else MemTotal.
fn memory_limit() -> Option<usize> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let cgroup = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .and_then(|text| text.trim().parse::<usize>().ok());
    let total = read("/proc/meminfo").and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    match (cgroup, total) {
        // An unlimited cgroup reports a huge number: the machine's memory is the limit.
        (Some(cgroup), Some(total)) => Some(cgroup.min(total)),
        (limit, None) | (None, limit) => limit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_flight(max_requests: usize, max_bytes: usize) -> InFlight {
        InFlight::new(Bounds {
            max_requests,
            max_bytes,
            request_timeout: Duration::from_secs(1),
        })
    }

    #[test]
    fn requests_past_the_bound_are_refused_and_admitted_again_once_released() {
        let limits = in_flight(2, 100);
        let first = limits.request().unwrap();
        let _second = limits.request().unwrap();
        assert_eq!(limits.request().unwrap_err(), Busy::Requests(2));
        assert_eq!(limits.requests_in_flight(), 2);
        drop(first);
        assert!(limits.request().is_ok());
    }

    #[test]
    fn bytes_past_the_bound_are_refused_and_a_request_past_all_of_it_for_good() {
        let limits = in_flight(10, 100);
        let held = limits.bytes(60).unwrap();
        assert_eq!(limits.bytes(41).unwrap_err(), Busy::Bytes(100));
        assert!(limits.bytes(40).is_ok());
        drop(held);
        let too_large = |needed| Busy::TooLarge { needed, limit: 100 };
        assert_eq!(limits.bytes(101).unwrap_err(), too_large(101));
        assert_eq!(limits.bytes(usize::MAX).unwrap_err(), too_large(usize::MAX));
    }

    #[test]
    fn the_default_byte_bound_is_sized_from_memory() {
        let bytes = default_max_bytes();
        assert!((64 << 20..=4096 << 20).contains(&bytes), "{bytes}");
    }
}
