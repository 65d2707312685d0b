//! Reading series back: which table a query reads, what columns it has, the pages of
//! its result (with retries), and rows turned back into series.
//!
//! Rows arrive ordered by series, then time (see [`super::sql`]), so a series is whole
//! once the next one starts: the [`Assembler`] hands series to a [`SeriesSink`] as they
//! complete, sample by sample, and holds no more than one row.

use std::sync::Arc;

use metrics::counter;
use thiserror::Error;

use super::backend::{BackendError, Credentials, Page, QueryBackend, Row};
use super::nonfinite;
use super::records::Routing;
use super::sql::{self, Select, TableColumns, TranslateError, Values};
use super::writer::RetryPolicy;
use super::{exemplars, histograms};
use crate::histogram::Histogram;
use crate::series::{MatchKind, Matcher, SeriesSink, METRIC_NAME_LABEL};
use crate::telemetry;

#[derive(Debug, Error)]
pub enum ReadError {
    #[error("{0}")]
    Translate(#[from] TranslateError),
    #[error("label {label} routes queries to a {what}: only = can match it")]
    Routing { label: String, what: &'static str },
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("Timestream answered a row this connector cannot read: {0}")]
    Row(String),
    #[error("the answer holds more than {limit} samples (--max-read-samples): read a shorter range or fewer series, or accept streamed answers")]
    TooManySamples { limit: u64 },
    #[error("the request holds {queries} queries, more than the {limit} one read may hold (--max-read-queries)")]
    TooManyQueries { queries: usize, limit: usize },
}

impl ReadError {
    /// Bounded label value for telemetry.
    pub fn kind(&self) -> &'static str {
        match self {
            ReadError::Translate(TranslateError::Regex { .. }) => "bad_regex",
            ReadError::Translate(TranslateError::Range { .. }) => "bad_range",
            ReadError::Routing { .. } => "bad_routing",
            ReadError::Backend(e) => e.kind(),
            ReadError::Row(_) => "bad_row",
            ReadError::TooManySamples { .. } => "too_many_samples",
            ReadError::TooManyQueries { .. } => "too_many_queries",
        }
    }
}

/// Where one query reads, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub database: String,
    pub table: String,
    /// The matchers left once routing matchers picked the table.
    pub matchers: Vec<Matcher>,
}

/// What a table offers a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Columns {
    /// The table has no samples the connector wrote (no such table, or neither a
    /// `measure_value::double` column nor histogram measures yet): every query of it is
    /// empty.
    Nothing,
    Some(TableColumns),
}

pub struct Reader {
    backend: Arc<dyn QueryBackend>,
    retry: RetryPolicy,
    routing: Arc<Routing>,
}

impl Reader {
    pub fn new(backend: Arc<dyn QueryBackend>, retry: RetryPolicy, routing: Arc<Routing>) -> Self {
        Reader {
            backend,
            retry,
            routing,
        }
    }

    /// The table a query reads: `--database-label` / `--table-label` equality matchers
    /// pick it where those flags are set, the defaults otherwise.
    pub fn target(&self, matchers: Vec<Matcher>) -> Result<Target, ReadError> {
        let mut target = Target {
            database: self.routing.default_database.clone(),
            table: self.routing.default_table.clone(),
            matchers: Vec::with_capacity(matchers.len()),
        };
        for m in matchers {
            let (slot, what) = if self.routing.database_label.as_ref() == Some(&m.name) {
                (&mut target.database, "database")
            } else if self.routing.table_label.as_ref() == Some(&m.name) {
                (&mut target.table, "table")
            } else {
                target.matchers.push(m);
                continue;
            };
            if m.kind != MatchKind::Equal || m.value.is_empty() {
                return Err(ReadError::Routing {
                    label: m.name,
                    what,
                });
            }
            *slot = m.value;
        }
        Ok(target)
    }

    /// The dimension columns of a table, from `DESCRIBE` (which scans nothing).
    pub async fn columns(
        &self,
        database: &str,
        table: &str,
        credentials: Option<&Credentials>,
    ) -> Result<Columns, ReadError> {
        let sql = format!(
            "DESCRIBE {}.{}",
            sql::identifier(database),
            sql::identifier(table)
        );
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        // A table of many multi-measure columns describes itself over several pages.
        loop {
            let page = match self.page(&sql, token.as_deref(), credentials).await {
                Ok(page) => page,
                // The statement is ours and well-formed, so Timestream refusing it means the
                // table or its database does not exist (a ValidationException, which names
                // no error code of its own). Such a table holds no series: an empty answer,
                // as Prometheus gives for a selector that matches nothing.
                Err(ReadError::Backend(
                    BackendError::Invalid(message) | BackendError::NotFound(message),
                )) => {
                    tracing::warn!(database, table, %message, "remote read of a table that does not exist");
                    counter!(telemetry::ERRORS, "stage" => "read", "kind" => "not_found")
                        .increment(1);
                    return Ok(Columns::Nothing);
                }
                Err(e) => return Err(e),
            };
            token = page.next_token.clone();
            pages.push(page);
            if token.is_none() {
                break;
            }
        }
        let mut dimensions = Vec::new();
        let mut non_finite = false;
        let mut has_exemplars = false;
        let mut multi = Vec::new();
        let mut values = Values {
            float: false,
            histograms: Vec::new(),
        };
        for row in pages.iter().flat_map(|page| page.rows()) {
            match (row.get(0), row.get(2)) {
                (Some(nonfinite::DIMENSION), Some("DIMENSION")) => non_finite = true,
                (Some(exemplars::METRIC | exemplars::LABELS), Some("DIMENSION")) => {
                    has_exemplars = true
                }
                (Some(name), Some("DIMENSION")) => dimensions.push(name.to_string()),
                (Some(name), _) if name == sql::VALUE_COLUMN => values.float = true,
                (Some(name), Some("MULTI")) => {
                    if let Some(m) = histograms::MEASURES.iter().find(|m| **m == name) {
                        values.histograms.push(m);
                    } else if row.get(1) == Some("double") && !name.starts_with("__") {
                        multi.push(name.to_string());
                    }
                }
                _ => {}
            }
        }
        // Rows are histograms by `__schema`: without it the other measures are not ours.
        if !values.histograms.contains(&histograms::SCHEMA) {
            values.histograms.clear();
        }
        values
            .histograms
            .sort_by_key(|m| histograms::MEASURES.iter().position(|n| n == m));
        Ok(
            if values.float || !values.histograms.is_empty() || !multi.is_empty() {
                Columns::Some(TableColumns {
                    dimensions,
                    non_finite,
                    values,
                    exemplars: has_exemplars,
                    multi,
                })
            } else {
                Columns::Nothing
            },
        )
    }

    /// One page of `sql`, retried with jittered backoff when Timestream throttles or fails.
    pub async fn page(
        &self,
        sql: &str,
        next_token: Option<&str>,
        credentials: Option<&Credentials>,
    ) -> Result<Page, ReadError> {
        let mut attempt = 1;
        loop {
            match self.backend.query(sql, next_token, credentials).await {
                Ok(page) => {
                    counter!(telemetry::QUERY_PAGES).increment(1);
                    counter!(telemetry::QUERY_ROWS).increment(page.row_count() as u64);
                    return Ok(page);
                }
                Err(e @ (BackendError::Throttled(_) | BackendError::Unavailable(_)))
                    if attempt < self.retry.max_attempts =>
                {
                    tracing::debug!(error = %e, attempt, "query page will be retried");
                    tokio::time::sleep(self.retry.delay(attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    counter!(telemetry::ERRORS, "stage" => "read", "kind" => e.kind()).increment(1);
                    return Err(e.into());
                }
            }
        }
    }
}

/// Turns ordered rows (`measure_name, dimensions…, [__value__,] time ms, values…`)
/// into series; a row with `__value__` holds a non-finite value in [`nonfinite`]'s
/// form, one with `__schema` a native histogram in [`histograms`]' form.
pub struct Assembler {
    dimensions: Vec<String>,
    /// Whether rows carry the `__value__` cell.
    non_finite: bool,
    /// Whether rows carry `measure_value::double`.
    float: bool,
    /// For each histogram measure cell of a row, its index in [`histograms::MEASURES`].
    histogram_cells: Vec<usize>,
    /// Whether rows end with the form cell ([`sql::FORM_COLUMN`]), which says nothing
    /// of the sample.
    form: bool,
    /// The series key of the series in progress: measure name and dimension cells.
    current: Option<Vec<Option<String>>>,
    /// Dimension indexes sorted by column name, so labels come out sorted.
    label_order: Vec<usize>,
    /// The time of the series' last sample.
    last_timestamp: Option<i64>,
}

impl Assembler {
    /// For rows of float samples only.
    pub fn new(dimensions: Vec<String>, non_finite: bool) -> Assembler {
        let mut label_order: Vec<usize> = (0..dimensions.len()).collect();
        label_order.sort_by(|a, b| dimensions[*a].cmp(&dimensions[*b]));
        Assembler {
            dimensions,
            non_finite,
            float: true,
            histogram_cells: Vec::new(),
            form: false,
            current: None,
            label_order,
            last_timestamp: None,
        }
    }

    /// For the rows of `select`.
    pub fn for_select(select: &Select) -> Assembler {
        let mut assembler = Assembler::new(select.dimensions.clone(), select.non_finite);
        assembler.float = select.values.float;
        assembler.form = select.form;
        assembler.histogram_cells = select
            .values
            .histograms
            .iter()
            .filter_map(|m| histograms::MEASURES.iter().position(|n| n == m))
            .collect();
        assembler
    }

    pub fn push(&mut self, row: Row<'_>, sink: &mut impl SeriesSink) -> Result<(), ReadError> {
        let time_cell = self.dimensions.len() + 1 + usize::from(self.non_finite);
        let width = time_cell
            + 1
            + usize::from(self.float)
            + self.histogram_cells.len()
            + usize::from(self.form);
        if row.len() != width {
            return Err(ReadError::Row(format!(
                "{} cells, expected {width}",
                row.len()
            )));
        }
        let Some(time) = row.get(time_cell) else {
            return Err(ReadError::Row("a NULL time".into()));
        };
        let timestamp_ms: i64 = time
            .parse()
            .map_err(|_| ReadError::Row(format!("time {time:?}")))?;
        let value = if self.float {
            row.get(time_cell + 1)
        } else {
            None
        };
        let sample = match value {
            Some(value) => Sample::Float(self.float_value(&row, value)?),
            None => Sample::Histogram(self.histogram(&row, time_cell, timestamp_ms)?),
        };
        self.start_if_new(&row, sink);
        // A sample stored twice (a multi-measure record resent in other company,
        // [`super::multi`]) is one sample: rows come in time order within a series, and
        // the multi-measure form's first, which was written first (its clash is what
        // wrote the other), so its value is the one kept, as Timestream keeps the
        // first value of a record.
        if self.last_timestamp.replace(timestamp_ms) == Some(timestamp_ms) {
            return Ok(());
        }
        match sample {
            Sample::Float(value) => sink.sample(timestamp_ms, value),
            Sample::Histogram(h) => sink.histogram(&h),
        }
        Ok(())
    }

    /// The value of a float sample's row.
    fn float_value(&self, row: &Row<'_>, value: &str) -> Result<f64, ReadError> {
        let mut value: f64 = value
            .parse()
            .map_err(|_| ReadError::Row(format!("value {value:?}")))?;
        if let Some(kind) = row
            .get(self.dimensions.len() + 1)
            .filter(|_| self.non_finite)
        {
            value = nonfinite::decode(kind, value).ok_or_else(|| {
                ReadError::Row(format!(
                    "{} {kind:?} with value {value}",
                    nonfinite::DIMENSION
                ))
            })?;
        }
        Ok(value)
    }

    /// The histogram of a row without a float value.
    fn histogram(
        &self,
        row: &Row<'_>,
        time_cell: usize,
        timestamp_ms: i64,
    ) -> Result<Histogram, ReadError> {
        let first = time_cell + 1 + usize::from(self.float);
        let mut cells = [None; histograms::MEASURES.len()];
        for (i, &measure) in self.histogram_cells.iter().enumerate() {
            cells[measure] = row.get(first + i);
        }
        histograms::decode(timestamp_ms, &cells)
            .map_err(|e| ReadError::Row(e.to_string()))?
            .ok_or_else(|| ReadError::Row("a NULL value".into()))
    }

    /// Starts a new series in `sink` if `row` is not of the one in progress.
    fn start_if_new(&mut self, row: &Row<'_>, sink: &mut impl SeriesSink) {
        let width = self.dimensions.len() + 2;
        // The series key: the measure name and the dimension cells.
        let key = || row.cells().take(self.dimensions.len() + 1);
        let same = self
            .current
            .as_ref()
            .is_some_and(|current| current.iter().map(Option::as_deref).eq(key()));
        if !same {
            if self.current.is_some() {
                sink.end_series();
            }
            self.last_timestamp = None;
            let name = row.get(0).unwrap_or_default();
            // Labels sort by name; `__name__` sorts before any lowercase-led name but not
            // before uppercase ones, so it takes its place among them.
            let mut labels: Vec<(&str, &str)> = Vec::with_capacity(width);
            for &i in &self.label_order {
                if let Some(v) = row.get(i + 1).filter(|v| !v.is_empty()) {
                    labels.push((&self.dimensions[i], v));
                }
            }
            let at = labels.partition_point(|(n, _)| *n < METRIC_NAME_LABEL);
            labels.insert(at, (METRIC_NAME_LABEL, name));
            sink.start_series(&labels);
            drop(labels);
            // Owned once a series, not once a row.
            self.current = Some(key().map(|c| c.map(str::to_string)).collect());
        }
    }

    pub fn finish(&mut self, sink: &mut impl SeriesSink) {
        if self.current.take().is_some() {
            sink.end_series();
        }
    }
}

/// What one row holds.
enum Sample {
    Float(f64),
    Histogram(Histogram),
}

#[cfg(test)]
mod tests;
