//! Push ingestion's own work, on the fixtures the tests can use: a Pushgateway-sized text
//! body (10k series) parsed and turned into a batch, and 1000 JSON events (3000 samples)
//! decoded and turned into a batch. Reported as samples per second; remote write's
//! decode (`write_path`) is the yardstick in docs/performance.md.
//!
//! Run: `cargo bench --bench push_path`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

// The daemon's allocator, so that the bench measures what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::push::{batch, events, grouping, text};

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("push_path");

    let body = fixtures::push_text(10_000);
    let key = grouping::parse("job/nightly/instance/host-1").unwrap();
    group.throughput(Throughput::Elements(10_000));
    group.bench_function("text_parse/10k_series", |b| {
        b.iter(|| text::parse(&body).unwrap().samples.len())
    });
    group.bench_function("text_parse_batch/10k_series", |b| {
        b.iter(|| {
            let exposition = text::parse(&body).unwrap();
            batch::pushed(&exposition, &key, 1_700_000_000_000)
                .unwrap()
                .sample_count()
        })
    });

    let json = fixtures::events_json(1_000);
    group.throughput(Throughput::Elements(3_000));
    group.bench_function("events_parse/1000_events", |b| {
        b.iter(|| events::parse(json.as_bytes()).unwrap().events.len())
    });
    group.bench_function("events_parse_batch/1000_events", |b| {
        b.iter(|| {
            let parsed = events::parse(json.as_bytes()).unwrap();
            let valid = parsed
                .events
                .iter()
                .enumerate()
                .filter_map(|(i, e)| e.as_ref().ok().map(|e| (i as u32, e, 1_700_000_000_000)));
            batch::events(valid).0.sample_count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
