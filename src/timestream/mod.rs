//! Amazon Timestream: what to write, how to group it, and the client that writes it.
//!
//! - [`quota`]: Timestream's limits and naming rules; why a sample is not written.
//! - [`records`]: series → records, routing and quota checks (pure).
//! - [`batch`]: records → WriteRecords calls with CommonAttributes, billing estimate (pure).
//! - [`backend`]: the small trait the writer talks to, and its errors.
//! - [`sdk`]: that trait over the official AWS SDK client.
//! - [`writer`]: concurrent calls with jittered retries, and the outcome of a request.
//!
//! Nothing here knows HTTP or protobuf.

pub mod backend;
pub mod batch;
pub mod quota;

pub mod reader;
pub mod records;
pub mod sdk;
pub mod sql;
pub mod writer;
