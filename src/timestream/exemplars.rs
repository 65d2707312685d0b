//! The documented form of exemplars in Timestream.
//!
//! An exemplar is a single-measure DOUBLE record of its own measure name, so that it
//! never meets the type of its metric's measure (DOUBLE for float samples, MULTI for
//! native histograms), with its series' dimensions and two more:
//!
//! | column | holds |
//! |---|---|
//! | `measure_name` | `__exemplar__` |
//! | `__metric__` | the series' metric name |
//! | `__labels__` | the exemplar's own labels in Prometheus' notation: `{trace_id="4bf92f35"}` (`{}` when it has none) |
//! | the series' labels | as for its samples |
//! | `measure_value::double` | the exemplar's value |
//! | `time` | the exemplar's time |
//!
//! Reads of series leave these rows out (`measure_name <> '__exemplar__'`, asked only of
//! tables that have them), so exemplars never show as samples. Prometheus keeps names
//! that start with `__` for itself, and a series with a label named `__metric__` or
//! `__labels__` is skipped as reserved, so neither the measure name nor the two
//! dimensions can meet a metric or label. An exemplar Timestream cannot store (a NaN or
//! infinite value, a time of 0, a record past 2 KiB) is skipped and counted.
//!
//! Pure: labels in, text out.

use crate::series::Label;

/// The measure name of every exemplar record.
pub const MEASURE: &str = "__exemplar__";
/// The dimension that holds the exemplar's metric name.
pub const METRIC: &str = "__metric__";
/// The dimension that holds the exemplar's own labels.
pub const LABELS: &str = "__labels__";

/// An exemplar in its stored form.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored<'a> {
    pub metric: &'a str,
    /// The `__labels__` text.
    pub labels: String,
    pub value: f64,
    pub timestamp_ms: i64,
}

impl Stored<'_> {
    /// Bytes the two extra dimensions add to a record.
    pub fn extra_bytes(&self) -> usize {
        METRIC.len() + self.metric.len() + LABELS.len() + self.labels.len()
    }
}

/// `labels` in Prometheus' notation, values quoted and escaped as its text format
/// escapes them (backslash, double quote, newline).
pub fn labels_text(labels: &[Label<'_>]) -> String {
    let mut out = String::with_capacity(2 + labels.len() * 24);
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(label.name);
        out.push_str("=\"");
        for c in label.value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_written_as_prometheus_writes_them() {
        let label = |name, value| Label { name, value };
        assert_eq!(labels_text(&[]), "{}");
        assert_eq!(
            labels_text(&[label("trace_id", "4bf92f35"), label("odd", "a\"b\\c\nd ✓")]),
            r#"{trace_id="4bf92f35",odd="a\"b\\c\nd ✓"}"#
        );
    }
}
