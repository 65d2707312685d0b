//! prost types for `proto/remote.proto` and `proto/types.proto` (package `prometheus`),
//! and in [`v2`] for `proto/write_v2.proto` (remote write 2.0).

include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));

/// Remote write 2.0 (package `io.prometheus.write.v2`).
pub mod v2 {
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.write.v2.rs"));
}
