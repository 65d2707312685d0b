//! The table of cases: each request, and what it must get. Remote write here; remote
//! read, pushes and events in `more_cases.rs`.

use super::more_cases::{push_cases, read_cases};
use super::*;

/// Every case, in the order they run (the last ones use up quotas).
pub(super) fn cases() -> Vec<Case> {
    let mut cases = write_cases();
    cases.extend(read_cases());
    cases.extend(push_cases());
    cases
}

fn write_cases() -> Vec<Case> {
    let stale = f64::from_bits(0x7ff0_0000_0000_0002);
    vec![
        // Remote write: the body is not a snappy-compressed WriteRequest.
        write_case("write: empty body", Vec::new, refused(&["snappy"])),
        write_case(
            "write: not snappy (GARBAGE + 4 KiB of noise)",
            not_snappy,
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 2^32 bytes",
            || snappy_claiming(1 << 32, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 2 GiB",
            || snappy_claiming(1 << 31, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 64 MiB + 1 (one past the limit)",
            || snappy_claiming(snappy::MAX_DECODED_BYTES as u64 + 1, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header claims 64 MiB (the limit) over 6 bytes",
            || snappy_claiming(snappy::MAX_DECODED_BYTES as u64, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_case(
            "write: snappy header longer than 5 bytes",
            || snappy_claiming(1 << 35, b"\x0cabcd"),
            refused(&["snappy"]),
        ),
        write_protobuf(
            "write: valid snappy of text, not protobuf",
            b"this is text, not a protobuf message".to_vec(),
            refused(&["protobuf"]),
        ),
        write_protobuf(
            "write: timeseries sent as a varint (wrong wire type)",
            pb().uint(1, 1).bytes(),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: sample value sent as a varint (wrong wire type)",
            pb_write(&[pb()
                .len_field(1, &pb_label(b"__name__", b"hostile_wire_type"))
                .len_field(2, &pb().uint(1, 1).bytes())
                .bytes()]),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: label sent as a group (wire type 3)",
            pb_write(&[pb().key(1, 3).bytes()]),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: unknown field with wire type 7",
            pb().key(9, 7).bytes(),
            refused(&["wire type"]),
        ),
        write_protobuf(
            "write: truncated varint",
            vec![0x0a, 0x80],
            refused(&["truncated"]),
        ),
        write_protobuf(
            "write: varint longer than 10 bytes",
            pb().raw(&[0x0a]).raw(&[0xff; 10]).raw(&[0x01]).bytes(),
            refused(&["varint"]),
        ),
        write_protobuf(
            "write: length past the end of the body",
            vec![0x0a, 0x7f, 0x0a],
            refused(&["truncated"]),
        ),
        write_protobuf(
            "write: invalid UTF-8 in a label name",
            one_raw_series(b"\xff\xfe", b"v"),
            refused(&["UTF-8"]),
        ),
        write_protobuf(
            "write: invalid UTF-8 in a label value",
            one_raw_series(b"job", b"\xc3\x28"),
            refused(&["UTF-8"]),
        ),
        write_protobuf(
            "write: overlong UTF-8 (C0 80) in a label value",
            one_raw_series(b"job", b"a\xc0\x80"),
            refused(&["UTF-8"]),
        ),
        write_protobuf(
            "write: UTF-16 surrogate (ED A0 80) in a label name",
            one_raw_series(b"\xed\xa0\x80", b"v"),
            refused(&["UTF-8"]),
        ),
        Case::new(
            "write: Content-Encoding gzip",
            "/write",
            with(remote_write_headers(), "Content-Encoding", "gzip"),
            valid_write,
            refused_with(415, &["Content-Encoding"]),
        ),
        Case::new(
            "write: a protobuf message this connector does not know",
            "/write",
            with(
                remote_write_headers(),
                "Content-Type",
                "application/x-protobuf;proto=io.prometheus.write.v3.Request",
            ),
            valid_write,
            refused_with(415, &["Content-Type"]),
        ),
        Case::new(
            "write: Content-Type text/plain",
            "/write",
            with(remote_write_headers(), "Content-Type", "text/plain"),
            valid_write,
            refused_with(415, &["Content-Type"]),
        ),
        write_case(
            "write: body 1 byte past the 32 MiB limit",
            || vec![0; MAX_BODY_BYTES + 1],
            refused_with(413, &["length limit", "more than the"]),
        ),
        write_case(
            "write: 64 MiB body (twice the limit)",
            || vec![0; 2 * MAX_BODY_BYTES],
            refused_with(413, &["length limit", "more than the"]),
        ),
        // Remote write: valid requests that Timestream cannot store (or that are not
        // valid Prometheus data): skipped and counted, or refused naming the series.
        write_series(
            "write: a series with 5,000 labels",
            vec![five_thousand_labels()],
            ignored("too_many_labels", 1),
        ),
        write_series(
            "write: a 1 MiB label value",
            vec![series(
                &[
                    ("__name__", "hostile_big_value"),
                    ("big", &"v".repeat(1 << 20)),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("record_too_large", 1),
        ),
        write_series(
            "write: an empty label name",
            vec![series(
                &[
                    ("", "x"),
                    ("__name__", "hostile_empty_label_name"),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            // Valid protobuf, unstorable: skipped and counted, as the other label
            // problems are, with the rest of the request written.
            ignored("empty_label_name", 1),
        ),
        write_series(
            "write: the same label name twice",
            vec![series(
                &[
                    ("__name__", "hostile_duplicate_label"),
                    ("a", "1"),
                    ("a", "2"),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("duplicate_label_name", 1),
        ),
        write_series(
            "write: __name__ twice",
            vec![series(
                &[
                    ("__name__", "hostile_name_a"),
                    ("__name__", "hostile_name_b"),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("duplicate_label_name", 1),
        ),
        write_series(
            "write: no __name__",
            vec![series(&[("job", "hostile_no_name")], &[(T0, 1.0)])],
            ignored("missing_metric_name", 1),
        ),
        write_series(
            "write: a 257-byte metric name",
            vec![series(
                &[
                    ("__name__", &format!("hostile_{}", "m".repeat(249))),
                    ("job", "hostile"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("long_metric_name", 1),
        ),
        write_series(
            "write: a 61-byte label name",
            vec![series(
                &[("__name__", "hostile_long_label"), (&"l".repeat(61), "v")],
                &[(T0, 1.0)],
            )],
            ignored("long_label_name", 1),
        ),
        write_series(
            "write: a label named measure_value::double",
            vec![series(
                &[
                    ("__name__", "hostile_reserved_label"),
                    ("measure_value::double", "1"),
                ],
                &[(T0, 1.0)],
            )],
            ignored("reserved_label_name", 1),
        ),
        write_series(
            "write: NaN, +Inf and -Inf samples",
            vec![series(
                &[("__name__", "hostile_non_finite"), ("job", "hostile")],
                &[
                    (T0, f64::NAN),
                    (T0 + 1, f64::INFINITY),
                    (T0 + 2, f64::NEG_INFINITY),
                ],
            )],
            // Stored in their documented form (`__value__`), not skipped.
            Expect::Stored,
        )
        .stores("hostile_non_finite"),
        write_series(
            "write: a staleness marker",
            vec![series(
                &[("__name__", "hostile_stale"), ("job", "hostile")],
                &[(T0, stale)],
            )],
            Expect::Stored,
        )
        .stores("hostile_stale"),
        write_protobuf(
            "write: a native histogram whose spans promise 3 buckets and give none",
            pb_write(&[pb()
                .len_field(1, &pb_label(b"__name__", b"hostile_histogram"))
                .len_field(
                    4,
                    &pb()
                        .len_field(11, &pb().uint(2, 3).bytes())
                        .uint(15, T0 as u64)
                        .bytes(),
                )
                .bytes()]),
            ignored("invalid_histogram", 1),
        ),
        write_protobuf(
            "write: an empty native histogram",
            pb_write(&[pb()
                .len_field(1, &pb_label(b"__name__", b"hostile_empty_histogram"))
                .len_field(4, &pb().uint(15, T0 as u64).bytes())
                .bytes()]),
            Expect::Stored,
        )
        .stores("hostile_empty_histogram"),
        write_case(
            "write: 200,000 empty series, then a real one",
            || {
                let mut body = [0x0a, 0x00].repeat(200_000);
                let real = proto::WriteRequest {
                    timeseries: vec![series(
                        &[
                            ("__name__", "hostile_after_empty_series"),
                            ("job", "hostile"),
                        ],
                        &[(T0, 1.0)],
                    )],
                    metadata: vec![],
                };
                body.extend(real.encode_to_vec());
                snappy::compress(&body)
            },
            Expect::Stored,
        )
        .stores("hostile_after_empty_series"),
        write_series(
            "write: SQL in a label value",
            vec![series(
                &[
                    ("__name__", "hostile_sql_values"),
                    ("job", "'; DROP TABLE metrics; --"),
                ],
                &[(T0, 1.0)],
            )],
            Expect::Stored,
        )
        .stores("hostile_sql_values"),
        write_series(
            "write: a sample at i64::MAX milliseconds",
            vec![series(
                &[("__name__", "hostile_end_of_time"), ("job", "hostile")],
                &[(i64::MAX, 1.0)],
            )],
            refused(&["Timestream"]),
        ),
    ]
}
