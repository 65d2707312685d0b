//! The Prometheus text exposition format 0.0.4, read as the Pushgateway 1.5.1 reads a
//! push: prometheus/common 0.37's `TextParser` (`expfmt/text_parse.go`), then the checks
//! of its `checkWriteRequest` (see `push::family`). A body is refused where the
//! Pushgateway refuses it, with the line and the reason, and the samples returned are
//! those a scrape of the Pushgateway would show. One pass; label text is borrowed from
//! the body unless it had escapes.
//!
//! # Syntax, as expfmt reads it
//! - Lines end in `\n`; a last line without one is "unexpected end of input stream"
//!   unless it is blank. Blanks are spaces and tabs (`\r` is not one).
//! - `# HELP name text` (escapes `\\` and `\n`, any other refused) and
//!   `# TYPE name type` (`counter`, `gauge`, `summary`, `untyped`, `histogram`, in any
//!   case); `#HELP` is a HELP line too; other comments are ignored. A family's second
//!   HELP or TYPE is refused, and so is a TYPE after its first sample. A TYPE runs to the
//!   end of the line: `# TYPE a counter ` with a trailing blank is an unknown type.
//! - Metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`; label names `[a-zA-Z_][a-zA-Z0-9_]*`, not
//!   `__name__`, not twice in a sample; label values quoted, with the escapes `\"`, `\\`
//!   and `\n` only, no raw newline.
//! - Values as Go's `strconv.ParseFloat` reads them after expfmt has refused `p`, `P`
//!   and `_`: decimals with an optional exponent, `Inf`/`Infinity` with an optional sign
//!   and `NaN`, in any case; no hex floats, no `+NaN`; `1e400` (out of range) refused.
//! - An optional timestamp: an integer (`strconv.ParseInt`), in milliseconds. Nothing may
//!   follow it, not even a blank; a blank after a value without timestamp is refused too
//!   (expfmt then expects a timestamp).
//! - A sample belongs to the family of its own name, unless its name is that of an
//!   earlier summary plus `_sum` or `_count`, or of an earlier histogram plus `_sum`,
//!   `_count` or `_bucket`: so TYPE must come before the samples.
//!
//! # Summaries and histograms, as the Pushgateway exposes them
//! expfmt merges a summary's or histogram's samples with the same labels (`quantile` or
//! `le` aside) into one metric, which the Pushgateway then writes out; so:
//! - `quantile` and `le` must be floats, and are written back as Go writes them
//!   (`le="0.50"` is `le="0.5"`, `le="+inf"` is `le="+Inf"`); `NaN` ones are dropped.
//! - A histogram without a `+Inf` bucket gets one, valued as its `_count`.
//! - A missing `_sum` or `_count` is 0; a repeated one keeps the last value.
//! - `_count` and bucket values are stored as Go's `uint64(v)` on amd64: truncated.
//! - The metric's last timestamp applies to all its samples.
//! - Their samples follow all other samples of the body.
//!
//! # Consistency, as the Pushgateway checks it after parsing
//! The same series twice (a missing `instance` equals `instance=""`), a label name
//! starting with `__`, and a summary or histogram beside a family named like one of its
//! samples are refused, at the later line, if the whole body parses.
//!
//! # Departures from the Pushgateway
//! - Timestamps are accepted (it refuses them: "pushed metrics must not have timestamps").
//! - Samples of a `gauge_histogram` family are refused: expfmt loses the error it raises
//!   for them, and the Pushgateway then fails every scrape.
//! - The body must be UTF-8 (it is a `str`); expfmt checks only label values.
//! - Quotes in messages are Rust's, not Go's.
//!
//! Layout: `lexer` reads tokens, `merge` folds summaries and histograms; this file
//! follows the grammar and keeps the families.

mod lexer;
mod merge;

use std::borrow::Cow;
use std::collections::HashMap;

use self::lexer::{parse_go_float, Cursor};
use self::merge::{Line, Metrics};
use super::family::{self, same_labels, Kind, SeriesSet};
use super::{Exposition, PushError, PushedLabel, PushedSample};
use crate::series::shown;

/// Parses a text-format push body.
pub fn parse(body: &str) -> Result<Exposition<'_>, PushError> {
    let mut parser = Parser::new(body);
    while parser.line()? {}
    parser.finish()
}

/// How a sample's name relates to its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Own,
    Bucket,
    Sum,
    Count,
}

struct Family<'a> {
    name: &'a str,
    kind: Option<Kind>,
    help: bool,
    /// The line of its first sample; 0 while it has none.
    first_line: usize,
    /// Its `_bucket`, `_sum` and `_count` names as the body wrote them, to borrow.
    suffixed: [Option<&'a str>; 3],
}

struct Parser<'a> {
    cursor: Cursor<'a>,
    families: Vec<Family<'a>>,
    by_name: HashMap<&'a str, u32>,
    /// The last name resolved: samples of one family mostly come together.
    last: Option<(&'a str, u32, Role)>,
    out: Exposition<'a>,
    /// Counter, gauge and untyped series, by sample index.
    series: SeriesSet,
    metrics: Metrics<'a>,
    /// The earliest consistency failure: reported only if the whole body parses.
    inconsistent: Option<PushError>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            cursor: Cursor::new(text),
            families: Vec::new(),
            by_name: HashMap::new(),
            last: None,
            out: Exposition::default(),
            series: SeriesSet::new(true),
            metrics: Metrics::new(),
            inconsistent: None,
        }
    }

    /// Reads one line; false at the end of the body.
    fn line(&mut self) -> Result<bool, PushError> {
        self.cursor.line += 1;
        self.cursor.skip_blanks();
        match self.cursor.peek() {
            None => return Ok(false),
            Some(b'\n') => self.cursor.pos += 1,
            Some(b'#') => {
                self.cursor.pos += 1;
                self.comment()?;
            }
            Some(_) => self.sample()?,
        }
        Ok(true)
    }

    fn comment(&mut self) -> Result<(), PushError> {
        let cursor = &mut self.cursor;
        cursor.skip_blanks();
        cursor.current()?;
        if cursor.newline() {
            return Ok(());
        }
        let keyword = cursor.until_blank()?;
        if cursor.newline() {
            return Ok(());
        }
        let help = match keyword {
            "HELP" => true,
            "TYPE" => false,
            _ => return cursor.rest_of_line().map(drop),
        };
        cursor.skip_blanks();
        cursor.current()?;
        let name = cursor.metric_name()?;
        if cursor.newline() {
            return Ok(());
        }
        if !matches!(cursor.current()?, b' ' | b'\t') {
            return Err(cursor.error("invalid metric name in comment".into()));
        }
        let (index, _) = self.resolve(name);
        self.cursor.skip_blanks();
        self.cursor.current()?;
        if self.cursor.newline() {
            return Ok(());
        }
        let family = &mut self.families[index as usize];
        if help {
            if family.help {
                let message = format!("second HELP line for metric name {:?}", family.name);
                return Err(self.cursor.error(message));
            }
            family.help = true;
            return self.cursor.help_text();
        }
        if family.kind.is_some() {
            let message = format!(
                "second TYPE line for metric name {:?}, or TYPE reported after samples",
                family.name
            );
            return Err(self.cursor.error(message));
        }
        // expfmt drops backslashes here, and compares in upper case as Go's ToUpper does.
        let written: String = self
            .cursor
            .rest_of_line()?
            .chars()
            .filter(|&c| c != '\\')
            .collect();
        family.kind = Some(match go_upper(&written).as_str() {
            "COUNTER" => Kind::Counter,
            "GAUGE" => Kind::Gauge,
            "SUMMARY" => Kind::Summary,
            "UNTYPED" => Kind::Untyped,
            "HISTOGRAM" => Kind::Histogram,
            "GAUGE_HISTOGRAM" => Kind::GaugeHistogram,
            _ => {
                return Err(self
                    .cursor
                    .error(format!("unknown metric type {written:?}")))
            }
        });
        Ok(())
    }

    fn sample(&mut self) -> Result<(), PushError> {
        let name = self.cursor.metric_name()?;
        if name.is_empty() {
            return Err(self.cursor.error("invalid metric name".into()));
        }
        let (index, role) = self.resolve(name);
        let family = &mut self.families[index as usize];
        let kind = *family.kind.get_or_insert(Kind::Untyped);
        if family.first_line == 0 {
            family.first_line = self.cursor.line;
        }
        if role != Role::Own {
            family.suffixed[role as usize - 1].get_or_insert(name);
        }
        self.cursor.skip_blanks();
        let start = self.out.labels.len();
        let mut bound = (f64::NAN, None);
        if self.cursor.current()? == b'{' {
            self.labels(index, kind, start, &mut bound)?;
        }
        let written = self.cursor.until_blank()?;
        let Some(value) = parse_go_float(written) else {
            let message = format!("expected float as value, got {written:?}");
            return Err(self.cursor.error(message));
        };
        if kind == Kind::GaugeHistogram {
            let message = family::gauge_histogram_refused(self.families[index as usize].name);
            return Err(self.cursor.error(message));
        }
        let timestamp_ms = self.cursor.timestamp()?;
        if let Kind::Summary | Kind::Histogram = kind {
            let line = Line {
                family: index,
                kind,
                role,
                bound,
                value,
                timestamp_ms,
            };
            let added = self
                .metrics
                .add(line, &self.families, &mut self.out.labels, start);
            if let Err(message) = added {
                self.inconsistent(self.cursor.line, message);
            }
        } else {
            self.plain(name, start, value, timestamp_ms);
        }
        Ok(())
    }

    /// Reads `{…}` into `out.labels` from `start`, `quantile` or `le` into `bound`.
    fn labels(
        &mut self,
        index: u32,
        kind: Kind,
        start: usize,
        bound: &mut (f64, Option<&'a str>),
    ) -> Result<(), PushError> {
        let family = self.families[index as usize].name;
        let cursor = &mut self.cursor;
        cursor.pos += 1;
        loop {
            cursor.skip_blanks();
            if cursor.current()? == b'}' {
                break;
            }
            let name = cursor.label_name()?;
            if name.is_empty() {
                let message = format!("invalid label name for metric {family:?}");
                return Err(cursor.error(message));
            }
            if name == "__name__" {
                return Err(cursor.error("label name \"__name__\" is reserved".into()));
            }
            cursor.skip_blanks();
            if cursor.current()? != b'=' {
                let message = format!("expected '=' after label name, found {:?}", cursor.found());
                return Err(cursor.error(message));
            }
            // expfmt keeps a summary's `quantile` and a histogram's `le` apart.
            let special = matches!(
                (kind, name),
                (Kind::Summary, "quantile") | (Kind::Histogram, "le")
            );
            if !special && self.out.labels[start..].iter().any(|l| l.name == name) {
                let message = format!("duplicate label names for metric {family:?}");
                return Err(cursor.error(message));
            }
            cursor.pos += 1;
            cursor.skip_blanks();
            if cursor.current()? != b'"' {
                let message = format!(
                    "expected '\"' at start of label value, found {:?}",
                    cursor.found()
                );
                return Err(cursor.error(message));
            }
            let value = cursor.label_value()?;
            if special {
                let Some(parsed) = parse_go_float(&value) else {
                    let message = format!(
                        "expected float as value for '{name}' label, got {:?}",
                        shown(&value)
                    );
                    return Err(cursor.error(message));
                };
                *bound = match &value {
                    Cow::Borrowed(text) => (parsed, Some(*text)),
                    Cow::Owned(_) => (parsed, None),
                };
            }
            cursor.skip_blanks();
            let next = cursor.current()?;
            if next != b',' && next != b'}' {
                let message = format!("unexpected end of label value {:?}", shown(&value));
                return Err(cursor.error(message));
            }
            if !special {
                if !family::consistent_label_name(name) && self.inconsistent.is_none() {
                    let message = family::reserved_label_message(family, name);
                    self.inconsistent = Some(cursor.error(message));
                }
                self.out.labels.push(PushedLabel {
                    name: Cow::Borrowed(name),
                    value,
                });
            }
            if next == b'}' {
                break;
            }
            cursor.pos += 1;
        }
        cursor.pos += 1;
        cursor.skip_blanks();
        cursor.current()?;
        Ok(())
    }

    /// The family a name belongs to, created if need be (expfmt's `setOrCreateCurrentMF`).
    fn resolve(&mut self, name: &'a str) -> (u32, Role) {
        if let Some((last, index, role)) = self.last {
            // Once a name has been resolved, it always resolves the same way.
            if last == name {
                return (index, role);
            }
        }
        let (index, role) = self.find(name).unwrap_or_else(|| {
            let index = self.families.len() as u32;
            self.families.push(Family {
                name,
                kind: None,
                help: false,
                first_line: 0,
                suffixed: [None; 3],
            });
            self.by_name.insert(name, index);
            (index, Role::Own)
        });
        self.last = Some((name, index, role));
        (index, role)
    }

    /// The family of its own name, else `_sum`/`_count` of a summary, else
    /// `_sum`/`_count`/`_bucket` of a histogram.
    fn find(&self, name: &str) -> Option<(u32, Role)> {
        if let Some(&index) = self.by_name.get(name) {
            return Some((index, Role::Own));
        }
        let suffixes = [
            ("_count", Role::Count),
            ("_sum", Role::Sum),
            ("_bucket", Role::Bucket),
        ];
        let (base, role) = suffixes.into_iter().find_map(|(suffix, role)| {
            let base = name.strip_suffix(suffix).filter(|b| !b.is_empty())?;
            Some((base, role))
        })?;
        let &index = self.by_name.get(base)?;
        match (self.families[index as usize].kind, role) {
            (Some(Kind::Summary), Role::Sum | Role::Count) | (Some(Kind::Histogram), _) => {
                Some((index, role))
            }
            _ => None,
        }
    }

    /// A counter, gauge or untyped sample, its labels in `out.labels` from `start`.
    fn plain(&mut self, name: &'a str, start: usize, value: f64, timestamp_ms: Option<i64>) {
        let id = self.out.samples.len() as u32;
        self.out.samples.push(PushedSample {
            name: Cow::Borrowed(name),
            labels: start as u32..self.out.labels.len() as u32,
            value,
            timestamp_ms,
        });
        let labels = &self.out.labels[start..];
        let key = self.series.key(name, labels);
        let out = &self.out;
        let same = |other: u32| {
            let sample = &out.samples[other as usize];
            sample.name == name && same_labels(out.labels_of(sample), labels, true)
        };
        if self.series.insert(key, id, same).is_err() {
            let message = family::duplicate_message(name, labels);
            self.inconsistent(self.cursor.line, message);
        }
    }

    fn finish(mut self) -> Result<Exposition<'a>, PushError> {
        self.check_collisions();
        if let Some(error) = self.inconsistent {
            return Err(error);
        }
        self.metrics.expose(&mut self.out, &self.families);
        Ok(self.out)
    }

    /// A summary or histogram beside a family named like its samples, reported at the
    /// later of the two families' first samples.
    fn check_collisions(&mut self) {
        for family in self.families.iter().filter(|f| f.first_line > 0) {
            let Some(kind) = family.kind else { continue };
            for other in family::colliding_names(family.name, kind) {
                let Some(&index) = self.by_name.get(other.as_str()) else {
                    continue;
                };
                let other_line = self.families[index as usize].first_line;
                if other_line > 0 {
                    let message = family::collision_message(family.name, kind, &other);
                    let line = other_line.max(family.first_line);
                    if !matches!(self.inconsistent, Some(PushError::Text { line: l, .. }) if l <= line)
                    {
                        self.inconsistent = Some(PushError::Text { line, message });
                    }
                }
            }
        }
    }

    fn inconsistent(&mut self, line: usize, message: String) {
        if self.inconsistent.is_none() {
            self.inconsistent = Some(PushError::Text { line, message });
        }
    }
}

/// Go's `strings.ToUpper`: each character's simple upper case (one character for one),
/// so `ı` is `I` and `ſ` is `S`, but `ß` stays `ß`.
fn go_upper(text: &str) -> String {
    text.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
