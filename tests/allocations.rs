//! The hot path allocates per request and per WriteRecords call, never per label or
//! per sample: counted with a counting global allocator on requests that differ only
//! in their number of labels or samples.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use prost::Message;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::{snappy, write};
use timestream_prometheus_connector::timestream::batch;
use timestream_prometheus_connector::timestream::records::{plan, Routing, Strictness};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every operation to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made decoding and converting a request of this shape into calls.
fn allocations(series: usize, labels: usize, samples: usize) -> (usize, usize) {
    let body = snappy::compress(&fixtures::write_request(series, labels, samples).encode_to_vec());
    let routing = Routing {
        default_database: "prometheus".into(),
        default_table: "metrics".into(),
        database_label: None,
        table_label: None,
    };
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    let raw = snappy::decompress(&body).unwrap();
    let decoded = write::decode(&raw).unwrap();
    let plan = plan(&decoded, &routing, Strictness::default()).unwrap();
    let calls = batch::calls(&plan);
    let count = ALLOCATIONS.load(Ordering::SeqCst) - before;
    (count, calls.len())
}

#[test]
fn allocations_do_not_grow_with_labels_or_samples() {
    // Same series, 50% more labels or samples: the arrays may regrow once or twice
    // (amortised doubling), and bigger records may take a call more (two allocations
    // each), where an allocation per label would add 3000.
    let (six_labels, calls) = allocations(1000, 6, 1);
    let (nine_labels, more_calls) = allocations(1000, 9, 1);
    let extra_calls = more_calls.saturating_sub(calls);
    assert!(extra_calls <= 2, "{calls} → {more_calls} calls");
    assert!(
        nine_labels <= six_labels + 2 + 2 * extra_calls,
        "{six_labels} → {nine_labels} allocations for 3000 more labels ({extra_calls} more calls)"
    );
    let (fewer, fewer_calls) = allocations(200, 6, 5);
    let (more, more_calls) = allocations(200, 6, 8);
    let extra_calls = more_calls - fewer_calls;
    assert!(
        more <= fewer + 2 + 2 * extra_calls,
        "{fewer} → {more} allocations for 600 more samples ({extra_calls} more calls)"
    );

    // Two per call (its records, its common dimensions) and under twenty per request
    // (decompressed body, the batch's and the plan's arrays and their regrowths, the
    // sort order, the call list, the cut's four arrays).
    let (per_request, calls) = allocations(1000, 6, 1);
    assert!(
        per_request <= 20 + 2 * calls,
        "{per_request} allocations for a request of {calls} calls"
    );
}
