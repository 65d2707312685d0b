//! The read path's own work, Timestream aside: result rows (as the SDK hands them over)
//! → series → a SAMPLES response, or → XOR chunks in CRC32C frames. Reported as samples
//! (rows) per second.
//!
//! Run: `cargo bench --bench read_path`. Results: docs/performance.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use timestream_prometheus_connector::remote::read::{
    samples_response, SamplesSink, StreamSink, MAX_BYTES_IN_FRAME,
};
use timestream_prometheus_connector::timestream::reader::Assembler;

const SERIES: usize = 100;
const SAMPLES: usize = 720; // 3 h at 15 s

/// Rows as a query page holds them: measure name, job, instance, time ms, value text.
fn rows() -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::with_capacity(SERIES * SAMPLES);
    for s in 0..SERIES {
        for i in 0..SAMPLES {
            rows.push(vec![
                Some("http_requests_total".to_string()),
                Some("api".to_string()),
                Some(format!("host-{s}:9100")),
                Some((1_700_000_000_000 + i as i64 * 15_000).to_string()),
                Some(format!("{}", (s * 1000 + i) as f64 * 0.25)),
            ]);
        }
    }
    rows
}

fn dimensions() -> Vec<String> {
    vec!["job".into(), "instance".into()]
}

fn bench(c: &mut Criterion) {
    let rows = rows();
    let mut group = c.benchmark_group("read_path");
    group.throughput(Throughput::Elements(rows.len() as u64));
    group.bench_function("rows_to_samples_response", |b| {
        b.iter_batched(
            || rows.clone(),
            |rows| {
                let mut assembler = Assembler::new(dimensions());
                let mut sink = SamplesSink::default();
                for row in rows {
                    assembler.push(row, &mut sink).unwrap();
                }
                assembler.finish(&mut sink);
                samples_response(vec![sink.series]).len()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function("rows_to_streamed_frames", |b| {
        b.iter_batched(
            || rows.clone(),
            |rows| {
                let mut assembler = Assembler::new(dimensions());
                let mut sink = StreamSink::new(0, MAX_BYTES_IN_FRAME);
                for row in rows {
                    assembler.push(row, &mut sink).unwrap();
                }
                assembler.finish(&mut sink);
                sink.frames.iter().map(|f| f.len()).sum::<usize>()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
