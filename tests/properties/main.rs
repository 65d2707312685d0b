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

mod exposition;
mod push;
mod remote;
mod translation;
mod xor_chunks;

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
            let _ = sql::select("d", "t", &["job".into()], false, &[matcher], 0, 1);
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
