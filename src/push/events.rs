//! JSON events of the AWS serverless Prometheus push gateway:
//! `{"dimensions": {"customerId": "c1"}, "timestamp": 1676398017000, "metrics": {"ph": "6.7"}}`,
//! one event object or a JSON array of them.
//!
//! [`parse`] checks each event on its own, so one bad event does not hide the others: a
//! body is refused as a whole only when it is not JSON, or neither an object nor an
//! array. Strings are borrowed from the body unless they hold JSON escapes.
//!
//! - `metrics`: required, a non-empty object; each value a JSON number or a string
//!   holding one as Prometheus (Go's `ParseFloat`) writes it: decimal with optional sign
//!   and exponent, `NaN`, `[+-]Inf`, `[+-]Infinity`, any case. Both forms are parsed
//!   with Rust's correctly rounded `str::parse`, so `"12.0"` is 12.0 and `"1e-9"` is
//!   exactly the f64 nearest 1e-9; integers beyond 2^53 become the nearest f64. Finite
//!   text too large for an f64 (`1e400`) is refused, as `ParseFloat` refuses it.
//! - `timestamp`: absent or `null` means "when received"; otherwise a non-negative
//!   JSON integer of milliseconds.
//! - `dimensions`: absent or `null` means none; otherwise an object of JSON strings.
//!   An empty value is kept (it is an absent label in Prometheus).
//! - Names: metrics are Prometheus metric names, dimensions label names not starting
//!   with `__` (reserved, and `__name__` would be the metric name). A name given twice
//!   in one object is refused, as is a top-level field given twice.
//! - Other top-level fields are ignored.
//!
//! It does not apply the time of receipt nor build series: [`super::batch`] does.
//!
//! Departures from upstream (its Lambda's `isMetricRecord`): it requires `dimensions`
//! (non-empty) and a `timestamp` within the last 24 hours, refuses unknown fields, and
//! reads string values with JavaScript's `Number()` (which takes `""`, `" 1 "`, `0x10`).
//! Here `dimensions` and `timestamp` are optional, the time window is the caller's
//! (Timestream's retention), unknown fields are ignored, values are read as Prometheus
//! reads them, and names are checked rather than sanitized. Upstream takes one event per
//! invocation or SQS message; the array form is this connector's batch.

use std::borrow::Cow;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use thiserror::Error;

use super::{valid_label_name, valid_metric_name, PushError};

/// One valid event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// Label names and values, in body order.
    pub dimensions: Vec<Dimension<'a>>,
    /// Milliseconds since the epoch, if the event gave a time.
    pub timestamp_ms: Option<i64>,
    /// Metric names and values, in body order; at least one.
    pub metrics: Vec<(Cow<'a, str>, f64)>,
}

/// A dimension's name and value.
pub type Dimension<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Why one event was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("event {index}: {reason}")]
pub struct EventError {
    /// The event's position in the array (0 for a single object).
    pub index: usize,
    pub reason: String,
}

/// The events of one body, each valid or not.
#[derive(Debug, Clone, PartialEq)]
pub struct Events<'a> {
    /// One entry per event, in body order (empty for `[]`).
    pub events: Vec<Result<Event<'a>, EventError>>,
    /// Whether the body was an array.
    pub batch: bool,
}

const TIMESTAMP_REASON: &str =
    "timestamp must be an integer number of milliseconds since the epoch";

/// The events of `body`.
pub fn parse(body: &[u8]) -> Result<Events<'_>, PushError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        PushError::Events(format!(
            "the body is not UTF-8 (invalid byte at offset {})",
            e.valid_up_to()
        ))
    })?;
    let not_json = |e: serde_json::Error| PushError::Events(format!("the body is not JSON: {e}"));
    // Split an array straight from the body: its errors then carry the body's positions.
    if text
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('[')
    {
        let items: Vec<&RawValue> = serde_json::from_str(text).map_err(not_json)?;
        let events = items
            .into_iter()
            .enumerate()
            .map(|(index, raw)| event(raw).map_err(|reason| EventError { index, reason }))
            .collect();
        return Ok(Events {
            events,
            batch: true,
        });
    }
    let root: &RawValue = serde_json::from_str(text).map_err(not_json)?;
    if !root.get().starts_with('{') {
        return Err(PushError::Events(format!(
            "the body must be a JSON object or an array of objects, not {}",
            kind(root.get())
        )));
    }
    let event = event(root).map_err(|reason| EventError { index: 0, reason });
    Ok(Events {
        events: vec![event],
        batch: false,
    })
}

/// One event, or why it is refused.
fn event(raw: &RawValue) -> Result<Event<'_>, String> {
    let fields = members(raw)
        .ok_or_else(|| format!("an event must be a JSON object, not {}", kind(raw.get())))?;
    let (mut dimensions, mut timestamp, mut metrics) = (None, None, None);
    for (name, value) in fields {
        let slot = match &*name {
            "dimensions" => &mut dimensions,
            "timestamp" => &mut timestamp,
            "metrics" => &mut metrics,
            // Ignored so that producers may add fields (upstream refuses them).
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(format!("{name} is given twice"));
        }
    }
    let dimensions = match dimensions {
        Some(raw) if raw.get() != "null" => parse_dimensions(raw)?,
        _ => Vec::new(),
    };
    let timestamp_ms = match timestamp {
        Some(raw) if raw.get() != "null" => Some(parse_timestamp(raw)?),
        _ => None,
    };
    let metrics = match metrics {
        Some(raw) if raw.get() != "null" => parse_metrics(raw)?,
        _ => return Err("metrics is required".into()),
    };
    Ok(Event {
        dimensions,
        timestamp_ms,
        metrics,
    })
}

fn parse_dimensions(raw: &RawValue) -> Result<Vec<Dimension<'_>>, String> {
    let members = members(raw).ok_or_else(|| {
        format!(
            "dimensions must be an object of strings, not {}",
            kind(raw.get())
        )
    })?;
    if let Some(name) = first_duplicate(&members) {
        return Err(format!("dimensions: {name:?} is given twice"));
    }
    members
        .into_iter()
        .map(|(name, value)| {
            if !valid_label_name(&name) {
                return Err(format!(
                    "dimensions: {name:?} is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"
                ));
            }
            if name.starts_with("__") {
                return Err(format!(
                    "dimensions: {name:?} is reserved (names starting with __)"
                ));
            }
            // Strings only, as upstream's `isDimensions`: a number's text is ambiguous
            // (`1.0` vs `1`) as a label value.
            let not_a_string =
                || format!("dimensions.{name}: {} is not a string", shown(value.get()));
            if !value.get().starts_with('"') {
                return Err(not_a_string());
            }
            let Text(text) = serde_json::from_str(value.get()).map_err(|_| not_a_string())?;
            Ok((name, text))
        })
        .collect()
}

fn parse_timestamp(raw: &RawValue) -> Result<i64, String> {
    let text = raw.get();
    // A JSON integer: digits only (JSON allows no leading `+` or zeros); a sign means
    // negative, and a fraction or exponent is not a whole number of milliseconds.
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{TIMESTAMP_REASON}, not {}", shown(text)));
    }
    text.parse::<i64>()
        .map_err(|_| format!("{TIMESTAMP_REASON}; {text} is out of range"))
}

fn parse_metrics(raw: &RawValue) -> Result<Vec<(Cow<'_, str>, f64)>, String> {
    let members = members(raw)
        .ok_or_else(|| format!("metrics must be an object, not {}", kind(raw.get())))?;
    if members.is_empty() {
        return Err("metrics is empty: an event needs at least one metric".into());
    }
    if let Some(name) = first_duplicate(&members) {
        return Err(format!("metrics: {name:?} is given twice"));
    }
    members
        .into_iter()
        .map(|(name, value)| {
            if !valid_metric_name(&name) {
                return Err(format!(
                    "metrics: {name:?} is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
                ));
            }
            let value = metric_value(&name, value.get())?;
            Ok((name, value))
        })
        .collect()
}

/// A metric's value from its raw JSON text.
fn metric_value(name: &str, raw: &str) -> Result<f64, String> {
    let not_a_number = || format!("metrics.{name}: {} is not a number", shown(raw));
    let text = match raw.as_bytes().first() {
        Some(b'"') => match serde_json::from_str::<Text<'_>>(raw) {
            Ok(Text(text)) if float_text(&text) => text,
            _ => return Err(not_a_number()),
        },
        // JSON's number grammar is a subset of Rust's float grammar; parsing the text
        // here rather than taking serde_json's f64 keeps it correctly rounded.
        Some(b'-' | b'0'..=b'9') => Cow::Borrowed(raw),
        _ => return Err(not_a_number()),
    };
    let value: f64 = text.parse().map_err(|_| not_a_number())?;
    let infinity_text = text.trim_start_matches(['+', '-']).starts_with(['i', 'I']);
    if value.is_infinite() && !infinity_text {
        return Err(format!("metrics.{name}: {} is out of range", shown(raw)));
    }
    Ok(value)
}

/// Whether `text` is a float as Go's `strconv.ParseFloat` reads a Prometheus sample
/// value, without its hexadecimal and `_`-separated forms and with no whitespace.
fn float_text(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return true;
    }
    // Go takes no sign before NaN.
    if text.eq_ignore_ascii_case("nan") {
        return true;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (unsigned, None),
    };
    let (int, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    !(int.is_empty() && fraction.is_empty()) && digits(int) && digits(fraction) && exponent_ok
}

/// The members of a JSON object in body order, values left raw so each is checked with
/// a reason naming it; `None` if `raw` is not an object.
fn members(raw: &RawValue) -> Option<Vec<(Cow<'_, str>, &RawValue)>> {
    if !raw.get().starts_with('{') {
        return None;
    }
    // `raw` is valid JSON already, so this only fails on an impossible input.
    serde_json::from_str::<Members<'_>>(raw.get())
        .ok()
        .map(|m| m.0)
}

struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some((Text(name), value)) =
                    map.next_entry::<Text<'de>, &'de RawValue>()?
                {
                    members.push((name, value));
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A JSON string, borrowed unless it had escapes.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// A name given twice among `members`. Events have few names: pairwise comparison
/// unless there are many.
fn first_duplicate<'m>(members: &'m [(Cow<'_, str>, &RawValue)]) -> Option<&'m str> {
    if members.len() <= 16 {
        return members
            .iter()
            .enumerate()
            .find(|(i, (name, _))| members[..*i].iter().any(|(other, _)| other == name))
            .map(|(_, (name, _))| &**name);
    }
    let mut names: Vec<&str> = members.iter().map(|(name, _)| &**name).collect();
    names.sort_unstable();
    names.windows(2).find(|w| w[0] == w[1]).map(|w| w[0])
}

/// What kind of JSON value `raw` is, for messages.
fn kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// `raw` for a message, shortened: a value can be as long as the body.
fn shown(raw: &str) -> Cow<'_, str> {
    const MAX: usize = 40;
    if raw.starts_with(['{', '[']) {
        return Cow::Borrowed(kind(raw));
    }
    if raw.len() <= MAX {
        return Cow::Borrowed(raw);
    }
    let end = (0..=MAX)
        .rev()
        .find(|&i| raw.is_char_boundary(i))
        .unwrap_or(0);
    Cow::Owned(format!("{}…", &raw[..end]))
}

#[cfg(test)]
mod tests;
