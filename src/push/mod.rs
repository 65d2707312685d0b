//! Pushed metrics: the Pushgateway's API and the serverless push gateway's JSON events.
//!
//! Pure protocol code, like [`crate::remote`]: bytes in, plain data out; it knows neither
//! HTTP nor Timestream.
//!
//! - [`text`]: the Prometheus text exposition format 0.0.4, validated as the Pushgateway
//!   validates it.
//! - [`protobuf`]: the delimited `io.prometheus.client.MetricFamily` format.
//! - [`grouping`]: the grouping key of a Pushgateway path (`/metrics/job/<job>/…`).
//! - [`events`]: JSON events (`{"dimensions", "timestamp", "metrics"}`), one or an array.
//! - [`batch`]: pushes and events as series for the ingest pipeline.
//!
//! Both exposition formats decode into an [`Exposition`]: samples named as Prometheus
//! would scrape them from a Pushgateway (`_bucket`/`le`, `_sum`, `_count`, `quantile`),
//! label text borrowed from the body unless it had to be unescaped or formatted.

pub mod batch;
pub mod events;
mod family;
pub mod grouping;
pub mod protobuf;
pub mod text;

use std::borrow::Cow;
use std::ops::Range;

use thiserror::Error;

/// One label of a pushed sample; borrowed from the body where it could be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedLabel<'a> {
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

/// One sample of a pushed exposition, as a scrape of the Pushgateway would see it.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedSample<'a> {
    /// The sample's metric name, suffix included (`http_seconds_bucket`).
    pub name: Cow<'a, str>,
    /// Range of [`Exposition::labels`]: the sample's labels in body order, `le` and
    /// `quantile` included, the metric name not.
    pub labels: Range<u32>,
    pub value: f64,
    /// The sample's own timestamp, if the body gave one.
    pub timestamp_ms: Option<i64>,
}

/// Everything one push body holds, flat: allocations per body, not per sample.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Exposition<'a> {
    pub samples: Vec<PushedSample<'a>>,
    pub labels: Vec<PushedLabel<'a>>,
}

impl<'a> Exposition<'a> {
    pub fn labels_of(&self, sample: &PushedSample<'a>) -> &[PushedLabel<'a>] {
        &self.labels[sample.labels.start as usize..sample.labels.end as usize]
    }
}

/// Why a push body was refused. Every variant is the client's fault (a 400).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PushError {
    /// A text-format body that does not parse or is inconsistent; `line` counts from 1.
    #[error("text format parsing error in line {line}: {message}")]
    Text { line: usize, message: String },
    /// A delimited protobuf body that does not decode or is inconsistent.
    #[error("protobuf format error: {0}")]
    Protobuf(String),
    /// The same series twice, after the grouping labels were applied.
    #[error("{0} was pushed twice")]
    Duplicate(String),
    /// A Pushgateway path that names no job or has a bad grouping key.
    #[error("{0}")]
    Grouping(String),
    /// A body that is not valid in its `Content-Encoding` (gzip).
    #[error("cannot decompress the body: {0}")]
    Encoding(String),
    /// A JSON events body that is not JSON, or neither an object nor an array.
    #[error("invalid JSON events: {0}")]
    Events(String),
}

/// The largest body a push may inflate to: the same bound as a remote write body's.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// Inflates a `Content-Encoding: gzip` body, refusing one that grows past
/// [`MAX_DECODED_BYTES`] (a small body can inflate to gigabytes).
pub fn gunzip(body: &[u8]) -> Result<Vec<u8>, PushError> {
    use std::io::Read;
    let mut decoded = Vec::with_capacity(body.len() * 4);
    flate2::read::GzDecoder::new(body)
        .take(MAX_DECODED_BYTES as u64 + 1)
        .read_to_end(&mut decoded)
        .map_err(|e| PushError::Encoding(format!("gzip: {e}")))?;
    if decoded.len() > MAX_DECODED_BYTES {
        return Err(PushError::Encoding(format!(
            "gzip: the body inflates to more than {MAX_DECODED_BYTES} bytes"
        )));
    }
    Ok(decoded)
}

/// Whether `name` is a valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Whether `name` is a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub fn valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, with Prometheus'
/// `+Inf`, `-Inf` and `NaN`: how the Pushgateway (and Prometheus' client libraries)
/// write `le` and `quantile` label values, so a bucket pushed as `le="0.50"` is scraped
/// as `le="0.5"`.
pub fn go_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    // Go's %g with the shortest precision switches to an exponent below 1e-4 and from
    // 1e+06 up (strconv's `eprec = 6` when the precision is the shortest).
    let shortest = ryu::Buffer::new().format_finite(value).to_owned();
    let (mantissa, exponent) = decimal_digits(&shortest);
    let negative = value.is_sign_negative();
    let exp = exponent; // position of the decimal point relative to the first digit
    let digits = mantissa;
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if digits == "0" {
        out.push('0');
        return out;
    }
    let x = exp - 1; // scientific exponent
    if !(-4..6).contains(&x) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if x < 0 { '-' } else { '+' });
        let abs = x.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    } else if exp <= 0 {
        out.push_str("0.");
        for _ in 0..(-exp) {
            out.push('0');
        }
        out.push_str(&digits);
    } else if (exp as usize) >= digits.len() {
        out.push_str(&digits);
        for _ in 0..(exp as usize - digits.len()) {
            out.push('0');
        }
    } else {
        out.push_str(&digits[..exp as usize]);
        out.push('.');
        out.push_str(&digits[exp as usize..]);
    }
    out
}

/// The significant digits of ryu's shortest text (no sign, no leading or trailing
/// zeros) and the decimal point's position relative to the first of them.
fn decimal_digits(text: &str) -> (String, i32) {
    let text = text.trim_start_matches('-');
    let (number, exponent) = match text.split_once(['e', 'E']) {
        Some((n, e)) => (n, e.parse::<i32>().unwrap_or(0)),
        None => (text, 0),
    };
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let all: String = format!("{int}{frac}");
    let leading = all.len() - all.trim_start_matches('0').len();
    let digits = all.trim_start_matches('0').trim_end_matches('0').to_owned();
    if digits.is_empty() {
        return ("0".into(), 0);
    }
    (digits, int.len() as i32 - leading as i32 + exponent)
}

/// The samples as `name{labels} value [timestamp]` lines, labels in body order: what
/// the parsers' tests compare.
#[cfg(test)]
pub(crate) fn render(exposition: &Exposition<'_>) -> Vec<String> {
    exposition
        .samples
        .iter()
        .map(|sample| {
            let labels: Vec<String> = exposition
                .labels_of(sample)
                .iter()
                .map(|l| format!("{}={:?}", l.name, l.value))
                .collect();
            let mut line = format!(
                "{}{{{}}} {}",
                sample.name,
                labels.join(","),
                go_float(sample.value)
            );
            if let Some(timestamp) = sample.timestamp_ms {
                line += &format!(" {timestamp}");
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_written_as_go_writes_them() {
        for (value, text) in [
            (0.0, "0"),
            (0.5, "0.5"),
            (1.0, "1"),
            (2.5, "2.5"),
            (10.0, "10"),
            (0.005, "0.005"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (100000.0, "100000"),
            (1234567.0, "1.234567e+06"),
            (1e20, "1e+20"),
            (1.5e300, "1.5e+300"),
            (-0.25, "-0.25"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ] {
            assert_eq!(go_float(value), text, "{value}");
        }
    }

    #[test]
    fn names() {
        assert!(valid_metric_name("a:b_c1") && valid_metric_name("_x"));
        assert!(!valid_metric_name("1a") && !valid_metric_name("") && !valid_metric_name("a-b"));
        assert!(valid_label_name("_a1") && !valid_label_name("a:b") && !valid_label_name(""));
    }
}
