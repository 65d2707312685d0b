//! The write path's hot loop, on the fixtures the tests use: snappy → protobuf →
//! records → WriteRecords calls → request bodies → signatures. Reported as samples per
//! second. `prost_decode` and the SDK's request objects are the straightforward
//! alternatives, for scale.
//!
//! Run: `cargo bench --bench write_path`. Results: docs/performance.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

// The daemon's allocator, so that the bench measures what it runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use prost::Message;
use timestream_prometheus_connector::fixtures;
use timestream_prometheus_connector::remote::{proto, snappy, write, write_v2};
use timestream_prometheus_connector::timestream::records::{plan, Routing, Strictness};
use timestream_prometheus_connector::timestream::{batch, direct, multi, wire};

#[path = "../tests/support/sdk_records.rs"]
mod sdk_records;

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
        let v2_body = snappy::compress(
            &fixtures::to_v2(&fixtures::write_request(series, 6, 1)).encode_to_vec(),
        );
        group.bench_with_input(BenchmarkId::new("decode_v2", name), &v2_body, |b, body| {
            b.iter(|| {
                let raw = snappy::decompress(body).unwrap();
                write_v2::decode(&raw).unwrap().batch.sample_count()
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
        let calls = batch::calls(&planned);
        group.bench_function(BenchmarkId::new("stage_serialize", name), |b| {
            let mut body = Vec::new();
            b.iter(|| {
                calls
                    .iter()
                    .map(|call| {
                        body.clear();
                        wire::write_records(call, &mut body);
                        body.len()
                    })
                    .sum::<usize>()
            })
        });
        group.bench_function(BenchmarkId::new("sdk_request_objects", name), |b| {
            b.iter(|| {
                calls
                    .iter()
                    .map(|call| sdk_records::sdk_records(call).1.len())
                    .sum::<usize>()
            })
        });
        let bodies: Vec<bytes::Bytes> = calls
            .iter()
            .map(|call| {
                let mut body = Vec::new();
                wire::write_records(call, &mut body);
                body.into()
            })
            .collect();
        let credentials =
            aws_credential_types::Credentials::new("AKID", "secret", None, None, "bench");
        let uri: http::Uri = "https://ingest-cell1.timestream.us-east-1.amazonaws.com/"
            .parse()
            .unwrap();
        group.bench_function(BenchmarkId::new("stage_sign", name), |b| {
            b.iter(|| {
                for body in &bodies {
                    let mut request =
                        direct::request(&uri, wire::WRITE_RECORDS_TARGET, body.clone());
                    direct::sign_request(
                        &mut request,
                        body,
                        &credentials,
                        "us-east-1",
                        std::time::SystemTime::now(),
                    )
                    .unwrap();
                }
                bodies.len()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("decode_convert_serialize", name),
            &body,
            |b, body| {
                let mut out = Vec::new();
                b.iter(|| to_bodies(body, &routing, false, &mut out))
            },
        );
    }
    group.finish();
    record_modes(c, &routing);
}

/// A compressed request to its WriteRecords bodies (`multi`: `--record-mode=multi`);
/// their total length.
fn to_bodies(body: &[u8], routing: &Routing, multi: bool, out: &mut Vec<u8>) -> usize {
    let raw = snappy::decompress(body).unwrap();
    let series = write::decode(&raw).unwrap();
    let mut plan = plan(&series, routing, Strictness::default()).unwrap();
    if multi {
        multi::merge(&mut plan);
    }
    batch::calls(&plan)
        .iter()
        .map(|call| {
            out.clear();
            wire::write_records(call, out);
            out.len()
        })
        .sum()
}

/// One node_exporter request (2000 samples), where `--record-mode=multi` has something to
/// merge: request to bodies in each mode, and the merge alone.
fn record_modes(c: &mut Criterion, routing: &Routing) {
    let mut group = c.benchmark_group("record_mode");
    let request = fixtures::node_exporter(50, 1).swap_remove(0);
    group.throughput(Throughput::Elements(request.timeseries.len() as u64));
    let body = snappy::compress(&request.encode_to_vec());
    for (mode, multi) in [("single", false), ("multi", true)] {
        group.bench_with_input(
            BenchmarkId::new("decode_convert_serialize", mode),
            &body,
            |b, body| {
                let mut out = Vec::new();
                b.iter(|| to_bodies(body, routing, multi, &mut out))
            },
        );
    }
    let raw = snappy::decompress(&body).unwrap();
    let decoded = write::decode(&raw).unwrap();
    group.bench_function("stage_merge", |b| {
        b.iter_batched(
            || plan(&decoded, routing, Strictness::default()).unwrap(),
            |mut plan| {
                multi::merge(&mut plan);
                plan.record_count()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("stage_plan", |b| {
        b.iter(|| {
            plan(&decoded, routing, Strictness::default())
                .unwrap()
                .record_count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
