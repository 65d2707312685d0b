//! The read pipeline: selectors in, series out through a sink the front-end chooses.
//!
//! Every selector is planned first (its table, that table's columns, its SQL), so that a
//! bad matcher or an unavailable Timestream fails the read before anything is answered.
//! Then each plan's pages are fetched in order and turned into series as they arrive; a
//! front-end that streams sends what its sink holds between pages (`after_page`), one
//! that gathers waits for the end ([`gather`]).

use std::collections::HashMap;

use metrics::counter;

use super::backend::Credentials;
use super::reader::{Assembler, Columns, ReadError, Reader};
use super::sql::{self, Select};
use crate::histogram::Histogram;
use crate::series::{Selector, SeriesSink};
use crate::telemetry;

/// Each selector's SELECT, or `None` where nothing can match. A table's columns are
/// looked up once per read, however many selectors read it.
pub async fn plan(
    reader: &Reader,
    selectors: Vec<Selector>,
    credentials: Option<&Credentials>,
) -> Result<Vec<Option<Select>>, ReadError> {
    let mut columns: HashMap<(String, String), Columns> = HashMap::new();
    let mut plans = Vec::with_capacity(selectors.len());
    for selector in selectors {
        let target = reader.target(selector.matchers)?;
        let key = (target.database, target.table);
        if !columns.contains_key(&key) {
            let found = reader.columns(&key.0, &key.1, credentials).await?;
            columns.insert(key.clone(), found);
        }
        let select = match (&columns[&key], selector.range) {
            (Columns::Some(columns), Some((start, end))) => {
                sql::select_values(&key.0, &key.1, columns, &target.matchers, start, end)?
            }
            _ => None,
        };
        let answered = if select.is_some() {
            "timestream"
        } else {
            "empty"
        };
        counter!(telemetry::READ_QUERIES, "answered" => answered).increment(1);
        plans.push(select);
    }
    Ok(plans)
}

/// Fetches every page of `select` into `sink`, calling `after_page` between pages
/// (where a streamed answer sends what the sink holds, and learns the client is gone).
pub async fn run<S, F, Fut, E>(
    reader: &Reader,
    select: &Select,
    credentials: Option<&Credentials>,
    sink: &mut S,
    mut after_page: F,
) -> Result<(), E>
where
    S: SeriesSink,
    F: FnMut(&mut S) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: From<ReadError>,
{
    let mut assembler = Assembler::for_select(select);
    let mut token: Option<String> = None;
    let mut scanned = 0;
    loop {
        let page = reader
            .page(&select.sql, token.as_deref(), credentials)
            .await?;
        scanned = page.bytes_scanned.max(scanned);
        for row in page.rows() {
            assembler.push(row, sink).inspect_err(|e| {
                counter!(telemetry::ERRORS, "stage" => "read", "kind" => e.kind()).increment(1);
            })?;
        }
        token = page.next_token;
        if token.is_none() {
            break;
        }
        after_page(sink).await?;
    }
    assembler.finish(sink);
    counter!(telemetry::QUERY_BYTES_SCANNED).increment(scanned);
    Ok(())
}

/// Runs every plan to its end, one sink per plan (an empty one where nothing matches),
/// refusing an answer of more than `max_samples` samples in all as soon as it is past
/// them (a gathered answer is held whole in memory).
pub async fn gather<S: SeriesSink + Default>(
    reader: &Reader,
    plans: &[Option<Select>],
    credentials: Option<&Credentials>,
    max_samples: u64,
) -> Result<Vec<S>, ReadError> {
    let mut sinks = Vec::with_capacity(plans.len());
    let mut samples = 0;
    for plan in plans {
        let mut sink = Counted {
            sink: S::default(),
            samples,
        };
        if let Some(select) = plan {
            let within = |sink: &mut Counted<S>| {
                let result = if sink.samples > max_samples {
                    Err(ReadError::TooManySamples { limit: max_samples })
                } else {
                    Ok(())
                };
                std::future::ready(result)
            };
            run(reader, select, credentials, &mut sink, within).await?;
            within(&mut sink).await?;
        }
        samples = sink.samples;
        sinks.push(sink.sink);
    }
    Ok(sinks)
}

/// A sink that counts the samples that went into it (and into the sinks before it).
struct Counted<S> {
    sink: S,
    samples: u64,
}

impl<S: SeriesSink> SeriesSink for Counted<S> {
    fn start_series(&mut self, labels: &[(&str, &str)]) {
        self.sink.start_series(labels);
    }

    fn sample(&mut self, timestamp_ms: i64, value: f64) {
        self.samples += 1;
        self.sink.sample(timestamp_ms, value);
    }

    fn histogram(&mut self, histogram: &Histogram) {
        self.samples += 1;
        self.sink.histogram(histogram);
    }

    fn end_series(&mut self) {
        self.sink.end_series();
    }
}
