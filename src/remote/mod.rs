//! Prometheus' remote storage protocol: remote write requests in, remote read requests
//! and responses.
//!
//! This module knows bytes and protobuf, nothing of HTTP or Timestream: it turns a
//! remote write body into a [`crate::series::SeriesBatch`], and series into remote read
//! answers.
//!
//! - [`snappy`]: the block-format decompression with its size guard.
//! - [`write`]: a borrowing decoder for `prometheus.WriteRequest` (remote write 1.0).
//! - [`write_v2`]: a borrowing decoder for `io.prometheus.write.v2.Request` (2.0).
//! - [`histogram`]: native histograms' `Histogram` message, shared by 1.0 and 2.0.
//! - [`read`]: `ReadRequest`, and the SAMPLES and STREAMED_XOR_CHUNKS answers.
//! - [`chunks`]: XOR chunk encoding and the CRC32C framing of streamed answers.
//! - [`histogram_chunks`]: the chunk encodings of native histograms.
//! - [`proto`]: prost types generated from `proto/`, used where speed does not matter
//!   (tests, fixtures, the read path) and as the reference for the fast decoder.

pub mod chunks;
pub mod histogram;
pub mod histogram_chunks;
pub mod proto;
pub mod read;
pub mod snappy;
pub mod write;
pub mod write_v2;

mod wire;

use thiserror::Error;

/// Why a remote write or read body could not be decoded. Every variant is the client's fault.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    /// snap's own message, which already begins with "snappy:".
    #[error("{0}")]
    Snappy(String),
    #[error("snappy: declared decoded length {declared} bytes is over the limit of {limit} bytes")]
    TooLarge { declared: usize, limit: usize },
    #[error("protobuf: message truncated")]
    Truncated,
    #[error("protobuf: malformed varint")]
    Varint,
    #[error("protobuf: unsupported wire type {0}")]
    WireType(u8),
    #[error("protobuf: field {field} has wire type {wire_type}, expected {expected}")]
    UnexpectedWireType {
        field: u32,
        wire_type: u8,
        expected: u8,
    },
    #[error("protobuf: label text is not valid UTF-8")]
    Utf8,
    #[error("invalid matcher type {0}")]
    MatcherType(i32),
    #[error(transparent)]
    Symbols(#[from] write_v2::SymbolsError),
}
