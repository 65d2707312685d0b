//! The read path's own work, Timestream aside: Query answers (JSON pages as the service
//! sends them) → rows → series → a SAMPLES response, or → XOR chunks in CRC32C frames.
//! Reported as samples (rows) per second.
//!
//! Run: `cargo bench --bench read_path`. Results: docs/performance.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use timestream_prometheus_connector::remote::read::{
    samples_response, SamplesSink, StreamSink, MAX_BYTES_IN_FRAME,
};
use timestream_prometheus_connector::series::SeriesSink;
use timestream_prometheus_connector::timestream::reader::Assembler;
use timestream_prometheus_connector::timestream::wire;

const SERIES: usize = 100;
const SAMPLES: usize = 720; // 3 h at 15 s

/// Query answers as Timestream sends them, 1000 rows a page: measure name, job,
/// instance, time ms, value text.
fn pages() -> Vec<Vec<u8>> {
    let mut rows = Vec::with_capacity(SERIES * SAMPLES);
    for s in 0..SERIES {
        for i in 0..SAMPLES {
            rows.push(format!(
                r#"{{"Data":[{{"ScalarValue":"http_requests_total"}},{{"ScalarValue":"api"}},{{"ScalarValue":"host-{s}:9100"}},{{"ScalarValue":"{}"}},{{"ScalarValue":"{}"}}]}}"#,
                1_700_000_000_000 + i as i64 * 15_000,
                (s * 1000 + i) as f64 * 0.25
            ));
        }
    }
    rows.chunks(1000)
        .map(|page| {
            format!(
                r#"{{"QueryId":"q","Rows":[{}],"ColumnInfo":[],"NextToken":"next","QueryStatus":{{"ProgressPercentage":100.0,"CumulativeBytesScanned":1000,"CumulativeBytesMetered":10000000}}}}"#,
                page.join(",")
            )
            .into_bytes()
        })
        .collect()
}

/// Every page parsed and assembled into `sink`.
fn assemble(pages: &[Vec<u8>], sink: &mut impl SeriesSink) {
    let mut assembler = Assembler::new(dimensions(), false);
    for body in pages {
        let page = wire::query_page(body).unwrap();
        for row in page.rows() {
            assembler.push(row, sink).unwrap();
        }
    }
    assembler.finish(sink);
}

fn dimensions() -> Vec<String> {
    vec!["job".into(), "instance".into()]
}

fn bench(c: &mut Criterion) {
    let pages = pages();
    let mut group = c.benchmark_group("read_path");
    group.throughput(Throughput::Elements((SERIES * SAMPLES) as u64));
    group.bench_function("query_pages_parsed", |b| {
        b.iter(|| {
            pages
                .iter()
                .map(|p| wire::query_page(p).unwrap().row_count())
                .sum::<usize>()
        })
    });
    group.bench_function("pages_to_samples_response", |b| {
        b.iter(|| {
            let mut sink = SamplesSink::default();
            assemble(&pages, &mut sink);
            samples_response(vec![sink.series]).len()
        })
    });
    group.bench_function("pages_to_streamed_frames", |b| {
        b.iter(|| {
            let mut sink = StreamSink::new(0, MAX_BYTES_IN_FRAME);
            assemble(&pages, &mut sink);
            sink.frames.iter().map(|f| f.len()).sum::<usize>()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
