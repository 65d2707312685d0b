//! prost types for `proto/remote.proto` and `proto/types.proto` (package `prometheus`).

include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
