//! Plain data in the middle of the connector: what every ingest format decodes into and
//! the Timestream conversion reads ([`SeriesBatch`]), and what a read asks for and gets
//! back ([`Selector`], [`SeriesSink`]). Neither protocol code nor Timestream code owns
//! these types, so neither needs the other.
//!
//! A [`SeriesBatch`] keeps all labels and all samples of a request in two flat arrays,
//! and each series is a pair of ranges into them. Decoding a request therefore costs a
//! handful of allocations per request, none per label or per sample, and label text is
//! borrowed from the request body instead of copied.

use std::ops::Range;

use crate::histogram::Histogram;

/// A label, borrowed from the buffer it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label<'a> {
    pub name: &'a str,
    pub value: &'a str,
}

/// One sample: a float value at a millisecond timestamp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub value: f64,
    pub timestamp_ms: i64,
}

/// An exemplar of a series: a sample with labels of its own (a trace id, say).
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar {
    /// Range of [`SeriesBatch::exemplar_labels`].
    pub labels: Range<u32>,
    pub value: f64,
    pub timestamp_ms: i64,
}

/// The label that carries the metric name in Prometheus' data model.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// Bit pattern Prometheus uses to mark a series as stale (a NaN no arithmetic yields).
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// Where one series' labels and samples sit in a [`SeriesBatch`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesRange {
    pub labels: Range<u32>,
    pub samples: Range<u32>,
    /// Native histogram samples of this series.
    pub histograms: Range<u32>,
    /// Exemplars of this series.
    pub exemplars: Range<u32>,
}

/// All series of one request.
#[derive(Debug, Default)]
pub struct SeriesBatch<'a> {
    pub labels: Vec<Label<'a>>,
    pub samples: Vec<Sample>,
    pub histograms: Vec<Histogram>,
    pub exemplars: Vec<Exemplar>,
    pub exemplar_labels: Vec<Label<'a>>,
    pub series: Vec<SeriesRange>,
}

/// One series of a [`SeriesBatch`], as slices.
#[derive(Debug, Clone, Copy)]
pub struct Series<'b, 'a> {
    pub labels: &'b [Label<'a>],
    pub samples: &'b [Sample],
    pub histograms: &'b [Histogram],
    pub exemplars: &'b [Exemplar],
    /// The labels [`Exemplar::labels`] ranges index.
    pub exemplar_labels: &'b [Label<'a>],
}

impl<'a> SeriesBatch<'a> {
    pub fn with_capacity(series: usize, labels: usize, samples: usize) -> Self {
        SeriesBatch {
            labels: Vec::with_capacity(labels),
            samples: Vec::with_capacity(samples),
            histograms: Vec::new(),
            exemplars: Vec::new(),
            exemplar_labels: Vec::new(),
            series: Vec::with_capacity(series),
        }
    }

    pub fn len(&self) -> usize {
        self.series.len()
    }

    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    pub fn get(&self, index: usize) -> Series<'_, 'a> {
        let range = &self.series[index];
        Series {
            labels: &self.labels[range.labels.start as usize..range.labels.end as usize],
            samples: &self.samples[range.samples.start as usize..range.samples.end as usize],
            histograms: &self.histograms
                [range.histograms.start as usize..range.histograms.end as usize],
            exemplars: &self.exemplars
                [range.exemplars.start as usize..range.exemplars.end as usize],
            exemplar_labels: &self.exemplar_labels,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = Series<'_, 'a>> + '_ {
        (0..self.series.len()).map(|i| self.get(i))
    }

    /// Appends a series from owned-elsewhere slices; used by the push formats and tests.
    pub fn push(&mut self, labels: &[Label<'a>], samples: &[Sample]) {
        let label_start = self.labels.len() as u32;
        let sample_start = self.samples.len() as u32;
        self.labels.extend_from_slice(labels);
        self.samples.extend_from_slice(samples);
        self.series.push(SeriesRange {
            labels: label_start..self.labels.len() as u32,
            samples: sample_start..self.samples.len() as u32,
            histograms: 0..0,
            exemplars: 0..0,
        });
    }

    /// Number of float samples in the batch.
    pub fn sample_count(&self) -> usize {
        self.samples.len()
    }

    /// Number of native histogram samples in the batch.
    pub fn histogram_count(&self) -> u64 {
        self.histograms.len() as u64
    }

    /// Number of exemplars in the batch.
    pub fn exemplar_count(&self) -> u64 {
        self.exemplars.len() as u64
    }
}

impl<'a> Series<'_, 'a> {
    /// The labels of one of this series' exemplars.
    pub fn exemplar_labels(&self, exemplar: &Exemplar) -> &[Label<'a>] {
        &self.exemplar_labels[exemplar.labels.start as usize..exemplar.labels.end as usize]
    }

    /// The value of label `name`, if the series has it with a non-empty value.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|l| l.name == name && !l.value.is_empty())
            .map(|l| l.value)
    }

    /// The series in Prometheus' text notation, for error messages.
    pub fn display(&self) -> String {
        let name = self.label(METRIC_NAME_LABEL).unwrap_or("");
        series_text(
            name,
            self.labels.iter().filter(|l| l.name != METRIC_NAME_LABEL),
        )
    }
}

/// `name{label="value",…}`, values quoted and escaped, for messages that name a series.
/// Names and values past [`MAX_SHOWN_BYTES`] are cut: a message names a series, it does
/// not echo a megabyte label value back.
pub fn series_text<'l, 'a: 'l>(
    name: &str,
    labels: impl IntoIterator<Item = &'l Label<'a>>,
) -> String {
    let labels: Vec<String> = labels
        .into_iter()
        .map(|l| format!("{}={:?}", shown(l.name), shown(l.value)))
        .collect();
    format!("{}{{{}}}", shown(name), labels.join(","))
}

/// The most bytes of one name or value a message shows.
pub const MAX_SHOWN_BYTES: usize = 256;

/// `text`, cut at a character boundary past [`MAX_SHOWN_BYTES`], for messages.
pub fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_SHOWN_BYTES {
        return text.into();
    }
    let mut end = MAX_SHOWN_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &text[..end], text.len()).into()
}

/// Whether `value` is Prometheus' staleness marker rather than an ordinary NaN.
pub fn is_stale_marker(value: f64) -> bool {
    value.to_bits() == STALE_NAN_BITS
}

/// How a label matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// One label matcher of a read, with Prometheus' meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub kind: MatchKind,
    pub name: String,
    pub value: String,
}

/// One query of a read: the series its matchers select, over an inclusive millisecond
/// range; `range` is `None` when the query and its hints leave no time to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub matchers: Vec<Matcher>,
    pub range: Option<(i64, i64)>,
}

/// Receives the series of a read, sample by sample, in order.
pub trait SeriesSink {
    /// A new series starts; `labels` are sorted by name.
    fn start_series(&mut self, labels: &[(&str, &str)]);
    fn sample(&mut self, timestamp_ms: i64, value: f64);
    /// A native histogram sample, in time order among the series' float samples.
    fn histogram(&mut self, histogram: &Histogram);
    fn end_series(&mut self);
}
