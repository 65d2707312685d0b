//! The write path's hot loop, on the fixtures the tests use: snappy → protobuf →
//! records → WriteRecords calls → SDK request objects. Reported as samples per second.
//! `prost_decode` is the straightforward alternative, for scale.
//!
//! Run: `cargo bench --bench write_path`. Results: docs/performance.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

// The daemon's allocator, so that the bench measures what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use prost::Message;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::{proto, snappy, write};
use timestream_prometheus_connector::timestream::records::{plan, Routing, Strictness};
use timestream_prometheus_connector::timestream::{batch, sdk};

fn routing() -> Routing {
    Routing {
        default_database: "prometheus".into(),
        default_table: "metrics".into(),
        database_label: None,
        table_label: None,
    }
}

fn bench(c: &mut Criterion) {
    let routing = routing();
    let cases = [("10k_series", 10_000), ("2000_samples", 2_000)];
    let mut group = c.benchmark_group("write_path");
    for (name, series) in cases {
        let body = snappy::compress(&fixtures::write_request(series, 6, 1).encode_to_vec());
        group.throughput(Throughput::Elements(series as u64));

        group.bench_with_input(BenchmarkId::new("decode", name), &body, |b, body| {
            b.iter(|| {
                let raw = snappy::decompress(body).unwrap();
                write::decode(&raw).unwrap().sample_count()
            })
        });
        group.bench_with_input(BenchmarkId::new("prost_decode", name), &body, |b, body| {
            b.iter(|| {
                let raw = snappy::decompress(body).unwrap();
                proto::WriteRequest::decode(raw.as_slice())
                    .unwrap()
                    .timeseries
                    .len()
            })
        });
        let raw = snappy::decompress(&body).unwrap();
        let decoded = write::decode(&raw).unwrap();
        group.bench_function(BenchmarkId::new("stage_plan", name), |b| {
            b.iter(|| {
                plan(&decoded, &routing, Strictness::default())
                    .unwrap()
                    .record_count()
            })
        });
        let planned = plan(&decoded, &routing, Strictness::default()).unwrap();
        group.bench_function(BenchmarkId::new("stage_calls", name), |b| {
            b.iter(|| batch::calls(&planned).len())
        });
        group.bench_function(BenchmarkId::new("stage_snappy", name), |b| {
            b.iter(|| snappy::decompress(&body).unwrap().len())
        });
        group.bench_with_input(
            BenchmarkId::new("decode_convert", name),
            &body,
            |b, body| {
                b.iter(|| {
                    let raw = snappy::decompress(body).unwrap();
                    let series = write::decode(&raw).unwrap();
                    let plan = plan(&series, &routing, Strictness::default()).unwrap();
                    batch::calls(&plan).len()
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("decode_convert_sdk", name),
            &body,
            |b, body| {
                b.iter(|| {
                    let raw = snappy::decompress(body).unwrap();
                    let series = write::decode(&raw).unwrap();
                    let plan = plan(&series, &routing, Strictness::default()).unwrap();
                    batch::calls(&plan)
                        .iter()
                        .map(|call| sdk::to_sdk(call).unwrap().1.len())
                        .sum::<usize>()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
