//! Amazon Timestream: what to write, how to group it, the clients that write and query
//! it, and how series are read back.
//!
//! - [`quota`]: Timestream's limits and naming rules; why a sample is not written.
//! - [`records`]: series → records, routing and quota checks (pure).
//! - [`nonfinite`], [`histograms`], [`exemplars`]: the stored forms of staleness markers,
//!   NaN and ±Inf, of native histograms and of exemplars (pure).
//! - [`multi`]: float samples of one target and time as multi-measure records (pure).
//! - [`batch`]: records → WriteRecords calls with CommonAttributes, billing estimate (pure).
//! - [`packing`]: where calls are cut so that Timestream bills least (pure).
//! - [`backend`]: the small traits the writer and reader talk to, and their errors.
//! - [`wire`]: Timestream's JSON protocol: WriteRecords bodies and error answers (pure).
//! - [`direct`]: the write trait over signed requests of the connector's own.
//! - [`sdk`]: the shared AWS configuration; the query trait over the SDK's client.
//! - [`writer`]: concurrent calls with jittered retries, and the outcome of a request.
//! - [`sql`]: label matchers → a Timestream SELECT with Prometheus' semantics (pure).
//! - [`reader`]: the table a query reads, its columns, its pages, rows → series.
//! - [`query`]: the read pipeline: selectors planned, pages fetched into a sink.
//!
//! Nothing here knows HTTP or protobuf.

pub mod backend;
pub mod batch;
pub mod direct;
pub mod exemplars;
pub mod histograms;
pub mod multi;
pub mod nonfinite;
pub mod packing;
pub mod query;
pub mod quota;
pub mod reader;
pub mod records;
pub mod sdk;
pub mod sql;
pub mod wire;
pub mod writer;
