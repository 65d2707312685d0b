//! Property tests of everything that reads bytes or text a client controls: remote write
//! and remote read decoding, snappy, the text, protobuf, JSON event and grouping-key
//! parsers, the matcher → SQL translation, and XOR chunks and their frames.
//!
//! They stand in for `cargo fuzz`, which needs a nightly compiler this project's toolchain
//! does not have (docs/reliability.md). Each property says what would go wrong without
//! it. A failure prints the smallest input proptest found; that input then becomes a plain
//! test in "Regressions" at the bottom, so it runs on every build whatever the seed.
//! Nothing is written to disk (no `proptest-regressions/`).
//!
//! Cases per property are sized for a debug build; `PROPTEST_CASES=n` sets them all, for a
//! long run (`PROPTEST_CASES=100000 cargo test --release --test properties`).

use std::collections::HashSet;
use std::fmt::Write as _;

use base64::Engine as _;
use proptest::prelude::*;
use prost::Message;

use timestream_prometheus_connector::push::protobuf::client_model;
use timestream_prometheus_connector::push::{events, grouping, protobuf, text};
use timestream_prometheus_connector::remote::chunks::{self, ChunkError, XorChunk};
use timestream_prometheus_connector::remote::{proto, read, snappy, write, DecodeError};
use timestream_prometheus_connector::series::{MatchKind, Matcher, SeriesBatch, STALE_NAN_BITS};
use timestream_prometheus_connector::timestream::sql;

/// `cases` per property, unless `PROPTEST_CASES` says otherwise; no failure files.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Shared strategies

/// Up to `max` characters of any kind: controls, quotes, surrogate-free unicode.
fn chars(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect())
}

/// Label text: empty, name-like, anything, and longer than a one-byte varint length.
fn text_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z_]{1,12}",
        chars(24),
        "[a-z]{120,200}",
    ]
}

/// Any f64 bit pattern, with NaNs, the staleness marker, zeros and infinities often.
fn value_bits() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<u64>().prop_map(f64::from_bits),
        1 => Just(f64::from_bits(STALE_NAN_BITS)),
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => Just(f64::INFINITY),
        1 => any::<f64>(),
    ]
}

/// Millisecond timestamps, with the extremes often.
fn time() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        Just(0i64),
        Just(i64::MIN),
        Just(i64::MAX),
        -1_000_000i64..1_000_000,
    ]
}

/// Text built to break out of SQL quoting, and anything else.
const HOSTILE: &[&str] = &[
    "'",
    "''",
    "\"",
    "\"\"",
    "\\",
    ";",
    "--",
    "/*",
    "*/",
    "\n",
    "\r",
    " ",
    "OR",
    "1=1",
    "DROP TABLE t",
    "é",
    "\u{0}",
    "$",
    "measure_name",
    "time",
    "`",
    "\u{2028}",
    "a",
];

fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(HOSTILE), 0..6).prop_map(|p| p.concat()),
        chars(16),
        "[a-z_]{0,8}",
    ]
}

/// Pieces of RE2 syntax, including what the Java/Rust rewrite treats specially.
const REGEX_PIECES: &[&str] = &[
    "a", ".", "*", "+", "?", "|", "(", ")", "[", "]", "^", "$", "\\", "\\Q", "\\E", "[:", ":]",
    ":", "alpha", "(?i)", "(?m)", "(?s)", "(?P<x>", "&&", "~", "-", "--", "\\d", "\\C", "\\z",
    "{2}", "{2,}", "'", "\"", ";", "é", "\n", "[^", "]]",
];

fn regexish() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(REGEX_PIECES), 0..8).prop_map(|p| p.concat())
}

/// The ways a valid body can be damaged.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Insert { at: usize, byte: u8 },
    Remove { at: usize, len: usize },
    Truncate { at: usize },
    Duplicate { at: usize, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        (any::<usize>(), 1..8usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        (any::<usize>(), 1..16usize).prop_map(|(at, len)| Mutation::Duplicate { at, len }),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = bytes.len();
        match *m {
            Mutation::Flip { at, bits } if n > 0 => bytes[at % n] ^= bits,
            Mutation::Insert { at, byte } => bytes.insert(at % (n + 1), byte),
            Mutation::Remove { at, len } if n > 0 => {
                let start = at % n;
                let tail = bytes.split_off((start + len).min(n));
                bytes.truncate(start);
                bytes.extend_from_slice(&tail);
            }
            Mutation::Truncate { at } => bytes.truncate(at % (n + 1)),
            Mutation::Duplicate { at, len } if n > 0 => {
                let start = at % n;
                let end = (start + len).min(n);
                let copy = bytes[start..end].to_vec();
                let tail = bytes.split_off(end);
                bytes.extend_from_slice(&copy);
                bytes.extend_from_slice(&tail);
            }
            _ => {}
        }
    }
    bytes
}

fn uvarint(mut x: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while x >= 0x80 {
        out.push(x as u8 | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
    out
}

/// A number as a client writes it, and what it must read as.
#[derive(Debug, Clone)]
enum Number {
    Finite(f64),
    Nan,
    PosInf,
    NegInf,
}

impl Number {
    /// Prometheus' text (`+Inf`, `NaN`), finite values in Rust's shortest round-trip form.
    fn text(&self) -> String {
        match self {
            Number::Finite(v) => format!("{v:?}"),
            Number::Nan => "NaN".into(),
            Number::PosInf => "+Inf".into(),
            Number::NegInf => "-Inf".into(),
        }
    }

    /// Bit-exact for finite values; any NaN for NaN.
    fn matches(&self, v: f64) -> bool {
        match self {
            Number::Finite(x) => x.to_bits() == v.to_bits(),
            Number::Nan => v.is_nan(),
            Number::PosInf => v == f64::INFINITY,
            Number::NegInf => v == f64::NEG_INFINITY,
        }
    }
}

fn finite() -> impl Strategy<Value = f64> {
    any::<u64>()
        .prop_map(f64::from_bits)
        .prop_filter("finite", |v| v.is_finite())
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        8 => finite().prop_map(Number::Finite),
        1 => Just(Number::Finite(-0.0)),
        1 => Just(Number::Nan),
        1 => Just(Number::PosInf),
        1 => Just(Number::NegInf),
    ]
}

// ---------------------------------------------------------------------------------------
// Remote write 1.0 decoding

/// Series as (labels, (value bits, timestamp)), for comparing decoders.
type Decoded = Vec<(Vec<(String, String)>, Vec<(u64, i64)>)>;

fn ours(batch: &SeriesBatch<'_>) -> Decoded {
    batch
        .iter()
        .map(|s| {
            (
                s.labels
                    .iter()
                    .map(|l| (l.name.to_string(), l.value.to_string()))
                    .collect(),
                s.samples
                    .iter()
                    .map(|x| (x.value.to_bits(), x.timestamp_ms))
                    .collect(),
            )
        })
        .collect()
}

/// What a request holds. prost does not write a proto3 double equal to 0.0, -0.0
/// included, so a -0.0 it was given reads back as 0.0 whoever decodes it.
fn theirs(request: &proto::WriteRequest) -> Decoded {
    request
        .timeseries
        .iter()
        .map(|s| {
            (
                s.labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect(),
                s.samples
                    .iter()
                    .map(|x| {
                        let bits = if x.value == 0.0 { 0 } else { x.value.to_bits() };
                        (bits, x.timestamp)
                    })
                    .collect(),
            )
        })
        .collect()
}

fn label() -> impl Strategy<Value = proto::Label> {
    (text_value(), text_value()).prop_map(|(name, value)| proto::Label { name, value })
}

fn time_series() -> impl Strategy<Value = proto::TimeSeries> {
    let sample =
        (value_bits(), time()).prop_map(|(value, timestamp)| proto::Sample { value, timestamp });
    let exemplar = (prop::collection::vec(label(), 0..2), value_bits(), time()).prop_map(
        |(labels, value, timestamp)| proto::Exemplar {
            labels,
            value,
            timestamp,
        },
    );
    (
        prop::collection::vec(label(), 0..6),
        prop::collection::vec(sample, 0..6),
        prop::collection::vec(exemplar, 0..2),
    )
        .prop_map(|(labels, samples, exemplars)| proto::TimeSeries {
            labels,
            samples,
            exemplars,
        })
}

fn write_request() -> impl Strategy<Value = proto::WriteRequest> {
    let metadata = (any::<i32>(), text_value(), text_value(), text_value()).prop_map(
        |(r#type, metric_family_name, help, unit)| proto::MetricMetadata {
            r#type,
            metric_family_name,
            help,
            unit,
        },
    );
    (
        prop::collection::vec(time_series(), 0..5),
        prop::collection::vec(metadata, 0..2),
    )
        .prop_map(|(timeseries, metadata)| proto::WriteRequest {
            timeseries,
            metadata,
        })
}

/// Where prost decodes `bytes`, our decoder must give the same series, or refuse what
/// the real schema forbids and prost's model here does not know: groups (wire types 3
/// and 4, which no Prometheus sends), and field 4 of TimeSeries (native histograms) with
/// a wire type other than length-delimited.
fn same_as_prost(bytes: &[u8]) -> Result<(), TestCaseError> {
    let result = write::decode(bytes);
    let Ok(reference) = proto::WriteRequest::decode(bytes) else {
        return Ok(());
    };
    match result {
        Ok(batch) => prop_assert_eq!(ours(&batch), theirs(&reference)),
        Err(DecodeError::WireType(3 | 4)) => {}
        Err(DecodeError::UnexpectedWireType { field: 4, .. }) => {}
        Err(e) => {
            return Err(TestCaseError::fail(format!(
                "prost decodes {bytes:?}; ours refuses it: {e}"
            )))
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a remote write body (whose bytes anyone who can reach /write chooses)
    /// could panic the hand-written decoder, which reads lengths and varints from it.
    #[test]
    fn remote_write_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = write::decode(&bytes);
        same_as_prost(&bytes)?;
    }

    /// Without it: the borrowing decoder and its fast path for short labels could read a
    /// request differently from the schema (labels, sample values bit for bit, times),
    /// and store wrong data for requests no fixed fixture has.
    #[test]
    fn remote_write_decode_equals_prost_on_any_request(request in write_request()) {
        let bytes = request.encode_to_vec();
        let batch = write::decode(&bytes)
            .map_err(|e| TestCaseError::fail(format!("refused a prost encoding: {e}")))?;
        prop_assert_eq!(ours(&batch), theirs(&request));
        same_as_prost(&bytes)?;
    }

    /// Without it: a body damaged in transit or built by hand near the valid shape (where
    /// random bytes rarely land) could panic the decoder or be read differently from
    /// prost.
    #[test]
    fn remote_write_decode_survives_damaged_requests(
        request in write_request(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let bytes = mutate(request.encode_to_vec(), &mutations);
        same_as_prost(&bytes)?;
    }

    /// Without it: a snappy body could panic the decompressor before any protobuf is read.
    #[test]
    fn snappy_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..512),
        data in prop::collection::vec(any::<u8>(), 0..512),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let _ = snappy::decompress(&body);
        let damaged = mutate(snappy::compress(&data), &mutations);
        if let Ok(out) = snappy::decompress(&damaged) {
            prop_assert!(out.len() <= snappy::MAX_DECODED_BYTES);
        }
    }

    /// Without it: compression and decompression could disagree, and no request would
    /// decode as sent.
    #[test]
    fn snappy_round_trips(data in prop::collection::vec(any::<u8>(), 0..4096)) {
        prop_assert_eq!(snappy::decompress(&snappy::compress(&data)), Ok(data));
    }

    /// Without it: a few bytes declaring a decoded length of gigabytes could make the
    /// connector reserve that much memory per request.
    #[test]
    fn snappy_refuses_huge_declared_lengths(
        declared in (snappy::MAX_DECODED_BYTES as u64 + 1)..(1u64 << 31),
        tail in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let mut body = uvarint(declared);
        body.extend_from_slice(&tail);
        let result = snappy::decompress(&body);
        prop_assert!(
            matches!(result, Err(DecodeError::TooLarge { .. })),
            "declared {declared} bytes: {result:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Remote read request decoding, and on to SQL

fn label_matcher() -> impl Strategy<Value = proto::LabelMatcher> {
    (
        prop_oneof![0..4i32, any::<i32>()],
        prop_oneof![Just("__name__".to_string()), hostile()],
        prop_oneof![hostile(), regexish()],
    )
        .prop_map(|(r#type, name, value)| proto::LabelMatcher {
            r#type,
            name,
            value,
        })
}

fn read_request() -> impl Strategy<Value = proto::ReadRequest> {
    let hints = (time(), time(), any::<i64>(), text_value()).prop_map(
        |(start_ms, end_ms, step_ms, func)| proto::ReadHints {
            start_ms,
            end_ms,
            step_ms,
            func,
            ..Default::default()
        },
    );
    let query = (
        time(),
        time(),
        prop::collection::vec(label_matcher(), 0..4),
        prop::option::of(hints),
    )
        .prop_map(|(start, end, matchers, hints)| proto::Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers,
            hints,
        });
    (
        prop::collection::vec(query, 0..4),
        prop::collection::vec(prop_oneof![0..2i32, any::<i32>()], 0..3),
    )
        .prop_map(|(queries, accepted_response_types)| proto::ReadRequest {
            queries,
            accepted_response_types,
        })
}

/// Selectors of a decoded request, each translated as the read pipeline would: SQL, or
/// a refusal that is the client's fault (a bad regex, a reversed range).
fn translate_all(request: &proto::ReadRequest) -> Result<(), TestCaseError> {
    let _ = read::response_type(request);
    // A matcher type Prometheus does not define refuses the request (a 400).
    let Ok(selectors) = read::selectors(request) else {
        prop_assert!(request
            .queries
            .iter()
            .flat_map(|q| &q.matchers)
            .any(|m| !(0..4).contains(&m.r#type)));
        return Ok(());
    };
    for selector in selectors {
        let Some((start, end)) = selector.range else {
            continue;
        };
        let dimensions: Vec<String> = selector
            .matchers
            .iter()
            .map(|m| m.name.clone())
            .filter(|n| n != "__name__")
            .collect();
        match sql::select(
            "prometheus",
            "metrics",
            &dimensions,
            &selector.matchers,
            start,
            end,
        ) {
            Ok(_) | Err(sql::TranslateError::Regex { .. }) => {}
            Err(sql::TranslateError::Range { .. }) => prop_assert!(start > end),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a /read body could panic snappy, prost, or the selector and SQL
    /// building after them.
    #[test]
    fn remote_read_decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = read::decode(&bytes);
        // Past snappy, straight into prost and what follows a decode.
        if let Ok(request) = read::decode(&snappy::compress(&bytes)) {
            translate_all(&request)?;
        }
    }
}

proptest! {
    // Each case compiles up to 16 regexes twice (unoptimised in a debug build).
    #![proptest_config(config(500))]

    /// Without it: a query's matchers or time range could be mangled between the wire
    /// and the SQL (a matcher dropped, a range widened past what was asked), or a
    /// damaged request could panic the path.
    #[test]
    fn remote_read_requests_become_the_selectors_they_hold(
        request in read_request(),
        mutations in prop::collection::vec(mutation(), 0..3),
    ) {
        let raw = request.encode_to_vec();
        let decoded = read::decode(&snappy::compress(&raw));
        prop_assert_eq!(decoded.as_ref(), Ok(&request));
        let defined = request
            .queries
            .iter()
            .flat_map(|q| &q.matchers)
            .all(|m| (0..4).contains(&m.r#type));
        let selectors = read::selectors(&request);
        prop_assert_eq!(selectors.is_ok(), defined, "unknown matcher types are refused");
        let Ok(selectors) = selectors else {
            return Ok(());
        };
        prop_assert_eq!(selectors.len(), request.queries.len());
        for (selector, query) in selectors.iter().zip(&request.queries) {
            prop_assert_eq!(selector.matchers.len(), query.matchers.len());
            for (m, wire) in selector.matchers.iter().zip(&query.matchers) {
                prop_assert_eq!(&m.name, &wire.name);
                prop_assert_eq!(&m.value, &wire.value);
                let expected = match wire.r#type {
                    0 => Some(MatchKind::Equal),
                    1 => Some(MatchKind::NotEqual),
                    2 => Some(MatchKind::Regex),
                    3 => Some(MatchKind::NotRegex),
                    _ => None,
                };
                if let Some(kind) = expected {
                    prop_assert_eq!(m.kind, kind);
                }
            }
            if query.matchers.is_empty() {
                prop_assert_eq!(selector.range, None, "no matchers select nothing");
            }
            if let Some((start, end)) = selector.range {
                if query.start_timestamp_ms <= query.end_timestamp_ms {
                    prop_assert!(
                        query.start_timestamp_ms <= start && start <= end
                            && end <= query.end_timestamp_ms,
                        "range {:?} outside the query's [{}, {}]",
                        selector.range, query.start_timestamp_ms, query.end_timestamp_ms
                    );
                }
            }
        }
        translate_all(&request)?;
        if let Ok(damaged) = read::decode(&snappy::compress(&mutate(raw, &mutations))) {
            translate_all(&damaged)?;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Matchers → SQL

/// Words the translator writes itself. Anything else outside a literal or an identifier
/// came from a client.
const SQL_WORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "BETWEEN",
    "ORDER",
    "BY",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "measure_name",
    "time",
    "measure_value",
    "double",
    "to_milliseconds",
    "from_milliseconds",
    "regexp_like",
    "coalesce",
];

const SQL_PUNCTUATION: &[&str] = &[",", "(", ")", ".", "=", "<>", "::"];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Number(String),
    Punct(String),
    /// A '…' string literal, unescaped.
    Literal(String),
    /// A "…" identifier, unescaped.
    Identifier(String),
}

/// Splits SQL into tokens the way a SQL lexer does, independently of the translator:
/// quotes open a literal or identifier that a doubled quote does not close; nothing else
/// escapes (Timestream's literals have no backslash escapes).
fn tokens(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut content = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated {c}…{c}")),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        content.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        content.push(other);
                        i += 1;
                    }
                }
            }
            // A quoted token ends where a token may end, not glued to another.
            match chars.get(i).copied() {
                None | Some(' ' | ',' | ')' | '.') => {}
                Some(next) => return Err(format!("{next:?} right after a closing {c}")),
            }
            out.push(if c == '\'' {
                Token::Literal(content)
            } else {
                Token::Identifier(content)
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if two == "<>" || two == "::" {
                out.push(Token::Punct(two));
                i += 2;
            } else {
                out.push(Token::Punct(c.to_string()));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Every client-supplied value sits inside a literal, every name inside an identifier,
/// and outside them there are only the translator's own words, operators and numbers.
fn check_sql(
    select: &sql::Select,
    identifiers: &[&str],
    matchers: &[Matcher],
    (start, end): (i64, i64),
) -> Result<(), TestCaseError> {
    let statement = &select.sql;
    let tokens =
        tokens(statement).map_err(|e| TestCaseError::fail(format!("{e} in {statement}")))?;
    let mut literals = vec![String::new()];
    let mut regexes = Vec::new();
    for m in matchers {
        match m.kind {
            MatchKind::Equal | MatchKind::NotEqual => literals.push(m.value.clone()),
            MatchKind::Regex | MatchKind::NotRegex => {
                if let Ok(portable) = sql::portable_regex(&m.value) {
                    regexes.push(format!("^(?s:{portable})\\z"));
                }
            }
        }
    }
    let numbers = [
        start.to_string(),
        end.to_string(),
        "0".into(),
        "1".into(),
        "2".into(),
    ];
    for token in &tokens {
        match token {
            Token::Word(w) => prop_assert!(
                SQL_WORDS.contains(&w.as_str()),
                "word {w:?} outside quotes in {statement}"
            ),
            Token::Number(n) => {
                prop_assert!(numbers.contains(n), "number {n:?} in {statement}")
            }
            Token::Punct(p) => prop_assert!(
                SQL_PUNCTUATION.contains(&p.as_str()),
                "{p:?} outside quotes in {statement}"
            ),
            Token::Identifier(id) => prop_assert!(
                identifiers.contains(&id.as_str()),
                "identifier {id:?} in {statement}"
            ),
            Token::Literal(l) if regexes.contains(l) => {
                // Timestream Local runs regexp_like with Rust's regex crate: a translated
                // pattern it cannot compile would turn a valid PromQL regex into an error.
                prop_assert!(
                    regex::Regex::new(l).is_ok(),
                    "translated regex {l:?} does not compile in Rust"
                );
            }
            Token::Literal(l) => {
                prop_assert!(literals.contains(l), "literal {l:?} in {statement}")
            }
        }
    }
    for keyword in ["SELECT", "FROM", "WHERE", "ORDER"] {
        let count = tokens
            .iter()
            .filter(|t| **t == Token::Word(keyword.into()))
            .count();
        prop_assert_eq!(count, 1, "{} {} times in {}", keyword, count, statement);
    }
    Ok(())
}

fn match_kind() -> impl Strategy<Value = MatchKind> {
    prop_oneof![
        Just(MatchKind::Equal),
        Just(MatchKind::NotEqual),
        Just(MatchKind::Regex),
        Just(MatchKind::NotRegex),
    ]
}

/// A table's dimension columns, and matchers on them, on `__name__`, or on columns the
/// table lacks.
fn select_inputs() -> impl Strategy<Value = (Vec<String>, Vec<Matcher>)> {
    prop::collection::vec(hostile(), 0..4).prop_flat_map(|dimensions| {
        let mut names = dimensions.clone();
        names.push("__name__".into());
        let matcher = (
            match_kind(),
            prop_oneof![prop::sample::select(names), hostile()],
            prop_oneof![hostile(), regexish()],
        )
            .prop_map(|(kind, name, value)| Matcher { kind, name, value });
        (Just(dimensions), prop::collection::vec(matcher, 0..4))
    })
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a label value or name (or a table name) could close its quotes and add
    /// SQL of its own: SQL injection through remote read. Equal and NotEqual never fail;
    /// a regex either translates (into a pattern Rust's regex crate compiles) or is
    /// refused as the client's error (a 400), never a panic.
    #[test]
    fn matchers_stay_inside_their_literals_and_identifiers(
        (dimensions, matchers) in select_inputs(),
        database in hostile(),
        table in hostile(),
        (start, end) in (time(), time()).prop_map(|(a, b)| (a.min(b), a.max(b))),
    ) {
        match sql::select(&database, &table, &dimensions, &matchers, start, end) {
            Ok(None) => {}
            Ok(Some(select)) => {
                prop_assert_eq!(&select.dimensions, &dimensions);
                let mut identifiers = vec![database.as_str(), table.as_str()];
                identifiers.extend(dimensions.iter().map(String::as_str));
                check_sql(&select, &identifiers, &matchers, (start, end))?;
            }
            Err(sql::TranslateError::Regex { label, pattern, .. }) => prop_assert!(
                matchers.iter().any(|m| {
                    matches!(m.kind, MatchKind::Regex | MatchKind::NotRegex)
                        && m.name == label
                        && m.value == pattern
                }),
                "refused {label:?} = {pattern:?}, which is no regex matcher"
            ),
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Text exposition format

/// Tokens of the text format, to reach deep into the grammar more often than random
/// characters do.
const TEXT_PIECES: &[&str] = &[
    "#",
    " ",
    "\t",
    "\n",
    "{",
    "}",
    "\"",
    "\\",
    "=",
    ",",
    "0",
    "1",
    "-1.5e3",
    "NaN",
    "+Inf",
    "-inf",
    "1e400",
    "9223372036854775808",
    "a",
    "b_c",
    "x:y",
    "le",
    "quantile",
    "_sum",
    "_count",
    "_bucket",
    "HELP",
    "TYPE",
    "counter",
    "gauge",
    "summary",
    "histogram",
    "untyped",
    "gauge_histogram",
    "instance",
    "__name__",
    "__x",
    "é",
    "\\n",
    "\\\"",
    "\\\\",
    "\r",
    "0x1p3",
    "1_000",
];

const LINE_NAMES: &[&str] = &["a", "a_sum", "a_count", "a_bucket", "b", "b_total", "c"];
const KINDS: &[&str] = &[
    "counter",
    "gauge",
    "summary",
    "histogram",
    "untyped",
    "gauge_histogram",
    "GAUGE",
    "bogus",
];
const LINE_LABELS: &[&str] = &["le", "quantile", "instance", "job", "x", "__x", "__name__"];
const LINE_VALUES: &[&str] = &[
    "0",
    "1",
    "2.5",
    "NaN",
    "+Inf",
    "-Inf",
    "1e3",
    "-0",
    "0.50",
    "18446744073709551616",
    "1e19",
    "x",
    "",
];

/// Whole lines over a few names that collide as summaries and histograms do, so the
/// merging of `_sum`, `_count`, `_bucket`, `le` and `quantile` is exercised.
fn exposition_line() -> impl Strategy<Value = String> {
    let name = || prop::sample::select(LINE_NAMES);
    let pair = (
        prop::sample::select(LINE_LABELS),
        prop::sample::select(LINE_VALUES),
    )
        .prop_map(|(n, v)| format!("{n}=\"{v}\""));
    prop_oneof![
        (name(), prop::sample::select(KINDS)).prop_map(|(n, k)| format!("# TYPE {n} {k}\n")),
        (name(), "[a-z \\\\]{0,6}").prop_map(|(n, h)| format!("# HELP {n} {h}\n")),
        (
            name(),
            prop::collection::vec(pair, 0..4),
            prop::sample::select(LINE_VALUES),
            prop::option::of(any::<i64>()),
        )
            .prop_map(|(n, labels, value, timestamp)| {
                let timestamp = timestamp.map(|t| format!(" {t}")).unwrap_or_default();
                format!("{n}{{{}}} {value}{timestamp}\n", labels.join(","))
            }),
        Just("\n".to_string()),
    ]
}

/// One family of a valid exposition: counter, gauge or untyped.
#[derive(Debug, Clone)]
struct TextFamily {
    name: String,
    kind: Option<&'static str>,
    help: Option<String>,
    samples: Vec<TextSample>,
}

/// A sample line's labels, value and timestamp.
type TextSample = (Vec<(String, String)>, Number, Option<i64>);

const PLAIN_KINDS: &[&str] = &["counter", "gauge", "untyped", "COUNTER", "Gauge"];
/// What may separate the parts of a sample line.
const BLANKS: &[&str] = &["", " ", "\t", " \t "];

fn text_family() -> impl Strategy<Value = TextFamily> {
    let labels = prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", chars(12)), 0..4);
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        prop::option::of(prop::sample::select(PLAIN_KINDS)),
        prop::option::of(chars(20)),
        prop::collection::vec((labels, number(), prop::option::of(any::<i64>())), 1..4),
    )
        .prop_map(|(name, kind, help, samples)| TextFamily {
            name,
            kind,
            help,
            samples,
        })
}

/// A sample as the parser must give it back.
#[derive(Debug)]
struct Expected {
    name: String,
    labels: Vec<(String, String)>,
    value: Number,
    timestamp: Option<i64>,
}

/// The body for `families` (names made unique, each sample's labels distinct and made a
/// distinct series with an `idx` label), and the samples it holds.
fn exposition(families: &[TextFamily], blank: &str) -> (String, Vec<Expected>) {
    let mut body = String::new();
    let mut expected = Vec::new();
    let mut names = HashSet::new();
    for family in families {
        if !names.insert(family.name.clone()) {
            continue;
        }
        if let Some(help) = &family.help {
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(body, "# HELP {} {help}", family.name);
        }
        if let Some(kind) = family.kind {
            let _ = writeln!(body, "# TYPE {} {kind}", family.name);
        }
        for (k, (labels, value, timestamp)) in family.samples.iter().enumerate() {
            let mut seen = HashSet::new();
            let mut labels: Vec<(String, String)> = labels
                .iter()
                .filter(|(n, _)| !n.starts_with("__") && n != "idx" && seen.insert(n.clone()))
                .cloned()
                .collect();
            labels.push(("idx".into(), k.to_string()));
            let rendered: Vec<String> = labels
                .iter()
                .map(|(n, v)| {
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("{n}{blank}={blank}\"{v}\"")
                })
                .collect();
            let _ = write!(
                body,
                "{}{blank}{{{blank}{}{blank}}}{blank}{}",
                family.name,
                rendered.join(&format!(",{blank}")),
                value.text()
            );
            if let Some(t) = timestamp {
                let _ = write!(body, " {t}");
            }
            body.push('\n');
            expected.push(Expected {
                name: family.name.clone(),
                labels,
                value: value.clone(),
                timestamp: *timestamp,
            });
        }
    }
    (body, expected)
}

proptest! {
    #![proptest_config(config(2000))]

    /// Without it: a push body (any text a client sends to /metrics/job/…) could panic
    /// the parser instead of being a 400.
    #[test]
    fn text_parser_never_panics_on_any_text(body in chars(200)) {
        let _ = text::parse(&body);
    }

    /// As above, with the format's own characters, so that malformed labels, escapes,
    /// comments and values are reached rather than failing on the first byte.
    #[test]
    fn text_parser_never_panics_on_near_valid_text(
        pieces in prop::collection::vec(prop::sample::select(TEXT_PIECES), 0..64),
        lines in prop::collection::vec(exposition_line(), 0..12),
    ) {
        let _ = text::parse(&pieces.concat());
        let _ = text::parse(&lines.concat());
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a valid push could be stored with a value rounded, a label escape
    /// read wrongly (`\"`, `\\`, `\n`) or a timestamp lost: silently wrong data.
    #[test]
    fn valid_expositions_read_back_exactly(
        families in prop::collection::vec(text_family(), 0..5),
        blank in prop::sample::select(BLANKS),
    ) {
        let (body, expected) = exposition(&families, blank);
        let parsed = text::parse(&body)
            .map_err(|e| TestCaseError::fail(format!("refused: {e}\n{body}")))?;
        prop_assert_eq!(parsed.samples.len(), expected.len(), "{}", body);
        for (sample, want) in parsed.samples.iter().zip(&expected) {
            prop_assert_eq!(&*sample.name, want.name.as_str());
            let labels: Vec<(&str, &str)> = parsed
                .labels_of(sample)
                .iter()
                .map(|l| (&*l.name, &*l.value))
                .collect();
            let want_labels: Vec<(&str, &str)> =
                want.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            prop_assert_eq!(labels, want_labels);
            prop_assert!(
                want.value.matches(sample.value),
                "{} read as {:?}", want.value.text(), sample.value
            );
            prop_assert_eq!(sample.timestamp_ms, want.timestamp);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Delimited protobuf pushes

const FAMILY_NAMES: &[&str] = &["a", "a_sum", "a_count", "a_bucket", "b", "", "1x", "x:y"];
const PAIR_NAMES: &[&str] = &["le", "quantile", "instance", "job", "x", "__x", "a-b", ""];

fn optional_value() -> impl Strategy<Value = Option<f64>> {
    prop::option::of(value_bits())
}

fn metric() -> impl Strategy<Value = client_model::Metric> {
    let pair = (prop::sample::select(PAIR_NAMES), text_value()).prop_map(|(name, value)| {
        client_model::LabelPair {
            name: Some(name.to_string()),
            value: Some(value),
        }
    });
    let quantile = (optional_value(), optional_value())
        .prop_map(|(quantile, value)| client_model::Quantile { quantile, value });
    let summary = (
        prop::option::of(any::<u64>()),
        optional_value(),
        prop::collection::vec(quantile, 0..4),
    )
        .prop_map(
            |(sample_count, sample_sum, quantile)| client_model::Summary {
                sample_count,
                sample_sum,
                quantile,
            },
        );
    let bucket = (prop::option::of(any::<u64>()), optional_value()).prop_map(
        |(cumulative_count, upper_bound)| client_model::Bucket {
            cumulative_count,
            upper_bound,
        },
    );
    let histogram = (
        prop::option::of(any::<u64>()),
        optional_value(),
        prop::collection::vec(bucket, 0..5),
    )
        .prop_map(
            |(sample_count, sample_sum, bucket)| client_model::Histogram {
                sample_count,
                sample_sum,
                bucket,
            },
        );
    (
        prop::collection::vec(pair, 0..3),
        prop::option::of(optional_value()),
        prop::option::of(optional_value()),
        prop::option::of(summary),
        prop::option::of(optional_value()),
        prop::option::of(histogram),
        prop::option::of(any::<i64>()),
    )
        .prop_map(
            |(label, gauge, counter, summary, untyped, histogram, timestamp_ms)| {
                client_model::Metric {
                    label,
                    gauge: gauge.map(|value| client_model::Gauge { value }),
                    counter: counter.map(|value| client_model::Counter { value }),
                    summary,
                    untyped: untyped.map(|value| client_model::Untyped { value }),
                    histogram,
                    timestamp_ms,
                }
            },
        )
}

fn metric_family() -> impl Strategy<Value = client_model::MetricFamily> {
    (
        prop::option::of(prop::sample::select(FAMILY_NAMES)),
        prop::option::of(prop::collection::vec(any::<u8>(), 0..8)),
        prop::option::of(prop_oneof![0..6i32, any::<i32>()]),
        prop::collection::vec(metric(), 0..4),
    )
        .prop_map(|(name, help, kind, metric)| client_model::MetricFamily {
            name: name.map(String::from),
            help,
            r#type: kind,
            metric,
        })
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a protobuf push could panic the parser, through its length prefixes,
    /// or through the conversion of summaries and histograms into samples (bounds, counts,
    /// NaN quantiles, families colliding by suffix).
    #[test]
    fn protobuf_push_parser_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..512),
        families in prop::collection::vec(metric_family(), 0..4),
        mutations in prop::collection::vec(mutation(), 0..3),
    ) {
        let _ = protobuf::parse(&bytes);
        let mut body = Vec::new();
        for family in &families {
            family
                .encode_length_delimited(&mut body)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let _ = protobuf::parse(&body);
        let _ = protobuf::parse(&mutate(body, &mutations));
    }
}

// ---------------------------------------------------------------------------------------
// JSON events

/// One generated event, and what it must read as.
#[derive(Debug, Clone)]
struct GeneratedEvent {
    /// `None`: no `dimensions` field.
    dimensions: Option<Vec<(String, String)>>,
    /// `None`: no `timestamp` field; `Some(None)`: `"timestamp": null`.
    timestamp: Option<Option<i64>>,
    /// Name, the value's JSON text, what it must read as.
    metrics: Vec<(String, String, Number)>,
    /// An unknown top-level field, which must be ignored.
    extra: bool,
}

/// JSON tokens and event fields, to reach past the JSON syntax into the event checks.
const JSON_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\"metrics\"",
    "\"dimensions\"",
    "\"timestamp\"",
    "null",
    "1",
    "-1",
    "1e400",
    "\"NaN\"",
    "\"x\"",
    "\\u0000",
    "\"__a\"",
    " ",
    "18446744073709551616",
    "1.5",
];

fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

impl GeneratedEvent {
    fn json(&self) -> String {
        let mut fields = Vec::new();
        if self.extra {
            fields.push(r#""source":{"x":[1,"2",null]}"#.to_string());
        }
        if let Some(dimensions) = &self.dimensions {
            let members: Vec<String> = dimensions
                .iter()
                .map(|(n, v)| format!("{}:{}", json_string(n), json_string(v)))
                .collect();
            fields.push(format!("\"dimensions\":{{{}}}", members.join(",")));
        }
        match self.timestamp {
            Some(Some(t)) => fields.push(format!("\"timestamp\":{t}")),
            Some(None) => fields.push("\"timestamp\":null".into()),
            None => {}
        }
        let metrics: Vec<String> = self
            .metrics
            .iter()
            .map(|(n, text, _)| format!("{}:{text}", json_string(n)))
            .collect();
        fields.push(format!("\"metrics\":{{{}}}", metrics.join(",")));
        format!("{{{}}}", fields.join(","))
    }
}

/// A metric value as a JSON number or a string, and what it must read as.
fn event_value() -> impl Strategy<Value = (String, Number)> {
    prop_oneof![
        4 => finite().prop_map(|v| (format!("{v:?}"), Number::Finite(v))),
        4 => finite().prop_map(|v| (format!("\"{v:?}\""), Number::Finite(v))),
        2 => finite().prop_map(|v| (format!("{v:e}"), Number::Finite(v))),
        2 => finite().prop_map(|v| (format!("\"{v:e}\""), Number::Finite(v))),
        1 => Just(("\"NaN\"".to_string(), Number::Nan)),
        1 => Just(("\"+Inf\"".to_string(), Number::PosInf)),
        1 => Just(("\"-Infinity\"".to_string(), Number::NegInf)),
        1 => Just(("\"inf\"".to_string(), Number::PosInf)),
    ]
}

fn event() -> impl Strategy<Value = GeneratedEvent> {
    let dimensions = prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,10}", chars(16)), 0..4)
        .prop_map(|pairs| {
            let mut seen = HashSet::new();
            pairs
                .into_iter()
                .filter(|(n, _)| !n.starts_with("__") && seen.insert(n.clone()))
                .collect::<Vec<_>>()
        });
    let metrics = prop::collection::vec(("[a-zA-Z_:][a-zA-Z0-9_:]{0,10}", event_value()), 1..5)
        .prop_map(|pairs| {
            let mut seen = HashSet::new();
            pairs
                .into_iter()
                .filter(|(n, _)| seen.insert(n.clone()))
                .map(|(n, (text, number))| (n, text, number))
                .collect::<Vec<_>>()
        });
    let timestamp = prop_oneof![
        Just(None),
        Just(Some(None)),
        (0..=i64::MAX).prop_map(|t| Some(Some(t))),
    ];
    (
        prop::option::of(dimensions),
        timestamp,
        metrics,
        any::<bool>(),
    )
        .prop_map(|(dimensions, timestamp, metrics, extra)| GeneratedEvent {
            dimensions,
            timestamp,
            metrics,
            extra,
        })
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: an /events body could panic the parser instead of being a 400.
    #[test]
    fn events_parser_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..256),
        body in chars(128),
        pieces in prop::collection::vec(prop::sample::select(JSON_PIECES), 0..40),
    ) {
        let _ = events::parse(&bytes);
        let _ = events::parse(body.as_bytes());
        let _ = events::parse(pieces.concat().as_bytes());
    }

    /// Without it: an event's values could be stored rounded (a JSON number read through
    /// an f64 parse that is not correctly rounded, a string read differently from
    /// Prometheus), or its dimensions or time changed.
    #[test]
    fn valid_events_read_back_exactly(
        generated in prop::collection::vec(event(), 1..4),
        array in any::<bool>(),
    ) {
        let array = array || generated.len() > 1;
        let items: Vec<String> = generated.iter().map(GeneratedEvent::json).collect();
        let body = if array { format!("[{}]", items.join(",")) } else { items[0].clone() };
        let parsed = events::parse(body.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("refused: {e}\n{body}")))?;
        prop_assert_eq!(parsed.batch, array);
        prop_assert_eq!(parsed.events.len(), generated.len());
        for (got, want) in parsed.events.iter().zip(&generated) {
            let got = got
                .as_ref()
                .map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
            let dimensions: Vec<(&str, &str)> =
                got.dimensions.iter().map(|(n, v)| (&**n, &**v)).collect();
            let want_dimensions: Vec<(&str, &str)> = want
                .dimensions
                .iter()
                .flatten()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            prop_assert_eq!(dimensions, want_dimensions);
            prop_assert_eq!(got.timestamp_ms, want.timestamp.flatten());
            prop_assert_eq!(got.metrics.len(), want.metrics.len());
            for ((name, value), (want_name, text, number)) in got.metrics.iter().zip(&want.metrics) {
                prop_assert_eq!(&**name, want_name.as_str());
                prop_assert!(number.matches(*value), "{text} read as {value:?}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Pushgateway grouping keys

const PATH_PIECES: &[&str] = &[
    "job",
    "job@base64",
    "/",
    "%",
    "%2F",
    "%zz",
    "%C3%A9",
    "%FF",
    "=",
    "a",
    "__x",
    "x@base64",
    "YQ",
    "YR",
    "",
    ".",
    "..",
    "é",
    "instance",
    "@base64",
    "//",
];

/// A grouping key path segment for `value`, base64 or percent-encoded.
fn segment(value: &str, base64: bool) -> String {
    if base64 {
        if value.is_empty() {
            // An empty segment is `//` unless last; `=` is the empty value.
            return "=".into();
        }
        return base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value);
    }
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a push URL could panic the grouping key parser (percent escapes,
    /// base64, slashes) instead of being a 400.
    #[test]
    fn grouping_key_parser_never_panics(
        path in chars(64),
        pieces in prop::collection::vec(prop::sample::select(PATH_PIECES), 0..16),
    ) {
        let _ = grouping::parse(&path);
        let _ = grouping::parse(&pieces.concat());
    }

    /// Without it: a label value sent base64- or percent-encoded (any text, slashes and
    /// unicode included) could be stored as something else than what was sent.
    #[test]
    fn grouping_keys_decode_what_was_encoded(
        job in chars(16).prop_filter("a job", |j| !j.is_empty()),
        job_base64 in any::<bool>(),
        labels in prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", chars(16), any::<bool>()), 0..4),
    ) {
        // Plain segments cannot be empty or relative (`.`, `..`): those need base64.
        let plain_ok = |v: &str| !v.is_empty() && v != "." && v != "..";
        let job_base64 = job_base64 || !plain_ok(&job);
        let mut path = format!(
            "{}/{}",
            if job_base64 { "job@base64" } else { "job" },
            segment(&job, job_base64)
        );
        let mut expected = vec![("job".to_string(), job.clone())];
        for (name, value, base64) in &labels {
            if name.starts_with("__") {
                continue;
            }
            let base64 = *base64 || !plain_ok(value);
            let suffix = if base64 { "@base64" } else { "" };
            let _ = write!(path, "/{name}{suffix}/{}", segment(value, base64));
            if name == "job" {
                continue; // the path's job wins
            }
            match expected.iter_mut().find(|(n, _)| n == name) {
                Some(label) => label.1 = value.clone(),
                None => expected.push((name.clone(), value.clone())),
            }
        }
        let key = grouping::parse(&path)
            .map_err(|e| TestCaseError::fail(format!("refused {path}: {e}")))?;
        prop_assert_eq!(key.labels, expected);
    }
}

// ---------------------------------------------------------------------------------------
// XOR chunks and frames

/// How the next sample's value relates to the previous one: the encoder has a branch
/// for each (same value, XOR inside the previous window, a new window).
#[derive(Debug, Clone)]
enum NextValue {
    Bits(u64),
    Same,
    FlipBit(u8),
}

fn xor_samples() -> impl Strategy<Value = Vec<(i64, f64)>> {
    // Strictly increasing times: deltas of every width class of the delta-of-delta code.
    let delta = prop_oneof![
        1..=100i64,
        Just(15_000i64),
        1..=(1i64 << 20),
        1..=(1i64 << 40),
    ];
    let next = prop_oneof![
        any::<u64>().prop_map(NextValue::Bits),
        Just(NextValue::Same),
        any::<u8>().prop_map(NextValue::FlipBit),
        Just(NextValue::Bits(STALE_NAN_BITS)),
        Just(NextValue::Bits(f64::NAN.to_bits())),
        Just(NextValue::Bits(1)),
        Just(NextValue::Bits((-0.0f64).to_bits())),
    ];
    (
        -(1i64 << 50)..(1i64 << 50),
        prop::collection::vec((delta, next), 0..300),
    )
        .prop_map(|(start, steps)| {
            let (mut t, mut bits) = (start, 0u64);
            let mut samples = Vec::with_capacity(steps.len());
            for (i, (delta, next)) in steps.into_iter().enumerate() {
                if i > 0 {
                    t += delta;
                }
                bits = match next {
                    NextValue::Bits(b) => b,
                    NextValue::Same => bits,
                    NextValue::FlipBit(k) => bits ^ (1 << (k % 64)),
                };
                samples.push((t, f64::from_bits(bits)));
            }
            samples
        })
}

/// A frame header whose length is anything, near the top of u64 included.
fn frame_input() -> impl Strategy<Value = Vec<u8>> {
    let length = prop_oneof![any::<u64>(), (0u64..8).prop_map(|k| u64::MAX - k), 0u64..64,];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (length, prop::collection::vec(any::<u8>(), 0..16)).prop_map(|(len, rest)| {
            let mut input = uvarint(len);
            input.extend_from_slice(&rest);
            input
        }),
    ]
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a remote read answer could carry different times or values than were
    /// read (NaN payloads and the staleness marker included: a staleness marker read back
    /// as an ordinary NaN changes PromQL's answers).
    #[test]
    fn xor_chunks_give_back_what_was_appended(samples in xor_samples()) {
        let mut chunk = XorChunk::new();
        for &(t, v) in &samples {
            chunk.append(t, v);
        }
        prop_assert_eq!(chunk.len(), samples.len());
        if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
            prop_assert_eq!((chunk.min_time, chunk.max_time), (first.0, last.0));
        }
        let decoded = chunks::decode_xor(&chunk.take())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let bits = |s: &[(i64, f64)]| s.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
        prop_assert_eq!(bits(&decoded[..]), bits(&samples[..]));
    }

    /// Without it: streamed answers could be framed so that a client reads another
    /// length or checksum than was written, and drops the answer.
    #[test]
    fn frames_give_back_their_data(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..4),
    ) {
        let stream: Vec<u8> = payloads.iter().flat_map(|p| chunks::frame(p).to_vec()).collect();
        let mut rest = &stream[..];
        for payload in &payloads {
            let (data, next) = chunks::read_frame(rest)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(data, &payload[..]);
            rest = next;
        }
        prop_assert!(rest.is_empty());
    }

    /// Without it: a frame with a hostile length could panic the reader (the test
    /// support's and the load generator's reader of streamed answers).
    #[test]
    fn read_frame_never_panics(input in frame_input()) {
        let _ = chunks::read_frame(&input);
    }

    /// Without it: a corrupt chunk could panic its decoder (used to read streamed
    /// answers in tests and in the load generator) instead of being an error.
    #[test]
    fn decode_xor_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = chunks::decode_xor(&bytes);
    }
}

// ---------------------------------------------------------------------------------------
// Regressions: one plain test per crash, so each runs on every build whatever the seed.
// Those below were found by reading the code the properties test, before the properties
// first ran; docs/reliability.md records which of them the properties confirmed.

/// `[[:]]` is a valid RE2 (and Rust) class holding `:`. The POSIX-class rewrite looks
/// for `:]` from the nested `[` and finds it one character in: `rest[2..1]`.
#[test]
fn a_nested_class_holding_a_colon_is_translated_or_refused() {
    for pattern in ["[[:]]", "x[[:]]y", "[a[:]]"] {
        for kind in [MatchKind::Regex, MatchKind::NotRegex] {
            let matcher = Matcher {
                kind,
                name: "job".into(),
                value: pattern.into(),
            };
            let _ = sql::select("d", "t", &["job".into()], &[matcher], 0, 1);
        }
    }
}

/// A frame length near `u64::MAX`: `4 + len` overflowed (a panic in debug builds)
/// before the length was compared with what is there.
#[test]
fn a_frame_length_near_u64_max_is_truncated() {
    let mut input = vec![0xff; 9];
    input.push(0x01);
    assert_eq!(chunks::read_frame(&input), Err(ChunkError::Truncated));
}

/// A value header of 31 leading zeros and 63 significant bits: `64 - 31 - 63` is
/// negative, and `u8` arithmetic overflowed.
#[test]
fn an_xor_value_window_wider_than_64_bits_is_an_error() {
    // Count 2; t = 0; value 0.0; delta 0; then bits 1 1 11111 111111.
    let chunk = [0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xf8];
    assert!(chunks::decode_xor(&chunk).is_err());
}
