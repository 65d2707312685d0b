use super::*;

fn routing() -> Routing {
    Routing {
        default_database: "db1".into(),
        default_table: "tbl1".into(),
        database_label: Some("tsdb".into()),
        table_label: Some("tstable".into()),
    }
}

type Pairs<'a, 'b> = &'b [(&'a str, &'a str)];

fn batch<'a>(series: &[(Pairs<'a, '_>, &[f64])]) -> SeriesBatch<'a> {
    let mut batch = SeriesBatch::default();
    for (labels, values) in series {
        let labels: Vec<Label<'a>> = labels
            .iter()
            .map(|&(name, value)| Label { name, value })
            .collect();
        let samples: Vec<Sample> = values
            .iter()
            .enumerate()
            .map(|(i, &value)| Sample {
                value,
                timestamp_ms: 1000 + i as i64,
            })
            .collect();
        batch.push(&labels, &samples);
    }
    batch
}

fn lenient(batch: &SeriesBatch<'_>) -> Ignored {
    let routing = routing();
    plan(batch, &routing, Strictness::default())
        .unwrap()
        .ignored
}

#[test]
fn name_becomes_measure_and_other_labels_dimensions() {
    let routing = routing();
    let b = batch(&[(
        &[
            ("__name__", "up"),
            ("empty", ""),
            ("job", "a"),
            ("zone", "z"),
        ],
        &[1.0, 2.0],
    )]);
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    assert_eq!(p.series.len(), 1);
    assert_eq!(p.series[0].measure, "up");
    let dims: Vec<_> = p
        .dimensions_of(&p.series[0])
        .iter()
        .map(|l| (l.name, l.value))
        .collect();
    assert_eq!(
        dims,
        [("job", "a"), ("zone", "z")],
        "empty labels are absent labels"
    );
    assert_eq!(
        p.destinations,
        [Destination {
            database: "db1",
            table: "tbl1"
        }]
    );
    assert_eq!((p.received, p.record_count()), (2, 2));
}

#[test]
fn routing_labels_pick_the_table_and_are_not_dimensions() {
    let routing = routing();
    let b = batch(&[
        (
            &[
                ("__name__", "a"),
                ("job", "j"),
                ("tsdb", "other_db"),
                ("tstable", "tb2"),
            ],
            &[1.0],
        ),
        (
            &[("__name__", "b"), ("job", "j"), ("tstable", "tb3")],
            &[1.0],
        ),
        (&[("__name__", "c"), ("job", "j")], &[1.0]),
    ]);
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    let destinations: Vec<_> = p
        .series
        .iter()
        .map(|s| p.destinations[s.destination as usize])
        .collect();
    assert_eq!(
        destinations,
        [
            Destination {
                database: "other_db",
                table: "tb2"
            },
            Destination {
                database: "db1",
                table: "tb3"
            },
            Destination {
                database: "db1",
                table: "tbl1"
            },
        ]
    );
    for s in &p.series {
        assert!(p.dimensions_of(s).iter().all(|d| d.name == "job"));
    }
}

#[test]
fn every_limit_skips_the_series_and_counts_its_samples() {
    let long_name = "n".repeat(61);
    let ok_name = "n".repeat(60);
    let long_metric = "m".repeat(257);
    let max_metric = "m".repeat(256);
    let big_value = "v".repeat(2000);
    let many: Vec<(String, String)> = (0..129).map(|i| (format!("l{i:03}"), "v".into())).collect();
    let mut many_labels: Vec<(&str, &str)> = vec![("__name__", "x")];
    many_labels.extend(many.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    type Case<'a> = (Vec<(&'a str, &'a str)>, Option<IgnoreReason>);
    let cases: Vec<Case> = vec![
        (
            vec![("job", "no name")],
            Some(IgnoreReason::MissingMetricName),
        ),
        (
            vec![("__name__", &long_metric)],
            Some(IgnoreReason::LongMetricName),
        ),
        (vec![("__name__", &max_metric)], None),
        (
            vec![("__name__", "x"), (&long_name, "v")],
            Some(IgnoreReason::LongLabelName),
        ),
        (vec![("__name__", "x"), (&ok_name, "v")], None),
        (
            vec![("__name__", "x"), ("time", "v")],
            Some(IgnoreReason::ReservedLabelName),
        ),
        (
            vec![("__name__", "x"), ("measure_name", "v")],
            Some(IgnoreReason::ReservedLabelName),
        ),
        (
            vec![("__name__", "x"), ("measure_value_x", "v")],
            Some(IgnoreReason::ReservedLabelName),
        ),
        (
            vec![("__name__", "x"), ("ts_anything", "v")],
            Some(IgnoreReason::ReservedLabelName),
        ),
        (
            vec![("__name__", "x"), ("x", "same as measure")],
            Some(IgnoreReason::ReservedLabelName),
        ),
        (many_labels.clone(), Some(IgnoreReason::TooManyLabels)),
        (many_labels[..129].to_vec(), None),
        (
            vec![("__name__", "x"), ("big", &big_value), ("big2", &big_value)],
            Some(IgnoreReason::RecordTooLarge),
        ),
        (
            vec![("__name__", "x"), ("tsdb", "no")],
            Some(IgnoreReason::InvalidDestination),
        ),
        (
            vec![("__name__", "x"), ("tstable", "bad/name")],
            Some(IgnoreReason::InvalidDestination),
        ),
    ];
    for (labels, expected) in cases {
        let b = batch(&[(&labels, &[1.0, 2.0, 3.0])]);
        let ignored = lenient(&b);
        match expected {
            Some(reason) => {
                assert_eq!(ignored.get(reason), 3, "{reason:?} for {labels:?}");
                assert_eq!(ignored.total(), 3);
            }
            None => assert_eq!(ignored.total(), 0, "{labels:?} should be written"),
        }
    }
}

#[test]
fn unsorted_labels_are_sorted_and_repeated_names_refused() {
    let routing = routing();
    let b = batch(&[
        (&[("zone", "z"), ("__name__", "x"), ("app", "a")], &[1.0]),
        (&[("__name__", "y"), ("app", "a"), ("app", "b")], &[1.0]),
    ]);
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    assert_eq!(p.series.len(), 1);
    let names: Vec<_> = p
        .dimensions_of(&p.series[0])
        .iter()
        .map(|l| l.name)
        .collect();
    assert_eq!(names, ["app", "zone"]);
    assert_eq!(p.ignored.get(IgnoreReason::DuplicateLabelName), 1);
    assert_eq!(p.skipped, [(1, IgnoreReason::DuplicateLabelName)]);
    assert_eq!(p.series[0].source, 0);
}

#[test]
fn a_second_metric_name_or_an_empty_label_name_skips_the_series() {
    let b = batch(&[
        (&[("__name__", "a"), ("__name__", "b")], &[1.0]),
        (&[("", "x"), ("__name__", "c")], &[1.0]),
        (&[("__name__", "d")], &[1.0]),
    ]);
    let routing = routing();
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    assert_eq!(
        p.skipped,
        [
            (0, IgnoreReason::DuplicateLabelName),
            (1, IgnoreReason::EmptyLabelName)
        ]
    );
    assert_eq!(p.series.len(), 1);
}

#[test]
fn record_size_counts_the_value_text_exactly() {
    // 8 (time) + 1 (measure "x") + 1 + len(v) bytes; the value "1.0" is 3 bytes.
    let value = "v".repeat(2048 - 8 - 1 - 1 - 3);
    let b = batch(&[(&[("__name__", "x"), ("a", &value)], &[1.0, 1234.5])]);
    let ignored = lenient(&b);
    assert_eq!(
        ignored.get(IgnoreReason::RecordTooLarge),
        1,
        "1234.5 is 3 bytes too long"
    );
    assert_eq!(ignored.total(), 1);
}

#[test]
fn non_finite_values_are_skipped_per_sample() {
    let stale = f64::from_bits(crate::series::STALE_NAN_BITS);
    let b = batch(&[(
        &[("__name__", "x")],
        &[1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, stale, 2.0],
    )]);
    let routing = routing();
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    assert_eq!(p.ignored.get(IgnoreReason::NonFiniteValue), 3);
    assert_eq!(p.ignored.get(IgnoreReason::StaleMarker), 1);
    let values: Vec<f64> = p.samples.iter().map(|s| s.value).collect();
    assert_eq!(values, [1.0, 2.0]);
    assert_eq!(p.received, 6);
}

#[test]
fn a_series_with_only_invalid_samples_is_not_planned() {
    let b = batch(&[(&[("__name__", "x"), ("a", "b")], &[f64::NAN])]);
    let routing = routing();
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    assert!(p.series.is_empty() && p.dimensions.is_empty() && p.destinations.is_empty());
}

#[test]
fn fail_on_flags_refuse_the_request_naming_the_series() {
    let routing = routing();
    let long = "n".repeat(61);
    let b = batch(&[(&[("__name__", "x"), (&long, "v")], &[1.0])]);
    let strict = Strictness {
        fail_on_long_label: true,
        ..Strictness::default()
    };
    let error = plan(&b, &routing, strict).unwrap_err();
    assert_eq!(error.reason, IgnoreReason::LongLabelName);
    assert!(
        error.to_string().contains(&format!("x{{{long}=\"v\"}}")),
        "{error}"
    );
    // The other flag does not refuse label problems.
    let value_strict = Strictness {
        fail_on_invalid_sample_value: true,
        ..Strictness::default()
    };
    assert!(plan(&b, &routing, value_strict).is_ok());

    let b = batch(&[(&[("__name__", "y")], &[f64::NAN])]);
    let error = plan(&b, &routing, value_strict).unwrap_err();
    assert_eq!(error.reason, IgnoreReason::NonFiniteValue);
    assert!(error.to_string().contains("y{}"));
    assert!(plan(&b, &routing, strict).is_ok());
}

#[test]
fn histograms_are_planned_beside_the_series_float_samples() {
    let mut b = batch(&[(&[("__name__", "h"), ("job", "j")], &[1.0])]);
    b.histograms = crate::fixtures::histograms();
    let broken = {
        let mut h = b.histograms[0].clone();
        h.positive_spans.clear();
        h
    };
    b.histograms.push(broken);
    b.series[0].histograms = 0..b.histograms.len() as u32;
    let routing = routing();
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    assert_eq!((p.received, p.received_histograms), (1, 5));
    assert_eq!(p.series.len(), 1);
    assert_eq!(p.histogram_series.len(), 1);
    let planned = &p.histogram_series[0];
    assert_eq!(planned.measure, "h");
    assert_eq!(
        p.dimensions_of(planned),
        [Label {
            name: "job",
            value: "j"
        }]
    );
    let stored = p.histograms_of(planned).to_vec();
    let expected: Vec<_> = crate::fixtures::histograms()
        .iter()
        .map(crate::timestream::histograms::encode)
        .collect();
    assert_eq!(stored, expected);
    assert_eq!(p.ignored_histograms.get(IgnoreReason::InvalidHistogram), 1);
    assert_eq!(p.record_count(), 5);

    // Under --fail-on-invalid-sample-value, the broken one refuses the request.
    let strict = Strictness {
        fail_on_invalid_sample_value: true,
        ..Strictness::default()
    };
    let error = plan(&b, &routing, strict).unwrap_err();
    assert_eq!(error.reason, IgnoreReason::InvalidHistogram);

    // A histogram too large for one record is counted, not sent.
    let mut big = batch(&[(&[("__name__", "h")], &[])]);
    big.histograms = vec![crate::histogram::Histogram {
        counts: crate::histogram::Counts::Float {
            count: 1.0,
            zero_count: 0.0,
            positive_counts: vec![0.1 + 0.2; 200],
            negative_counts: vec![],
        },
        positive_spans: vec![crate::histogram::Span {
            offset: 0,
            length: 200,
        }],
        ..Default::default()
    }];
    big.series[0].histograms = 0..1;
    let p = plan(&big, &routing, Strictness::default()).unwrap();
    assert_eq!(p.ignored_histograms.get(IgnoreReason::RecordTooLarge), 1);
    assert!(p.histogram_series.is_empty());
}

#[test]
fn non_finite_values_are_planned_in_their_documented_form_when_stored() {
    let mut b = SeriesBatch::default();
    let label = |name, value| Label { name, value };
    let sample = |value, timestamp_ms| Sample {
        value,
        timestamp_ms,
    };
    let stale = f64::from_bits(crate::series::STALE_NAN_BITS);
    b.push(
        &[
            label("__name__", "up"),
            label("instance", "a"),
            label("job", "j"),
        ],
        &[
            sample(1.0, 1),
            sample(stale, 2),
            sample(f64::INFINITY, 3),
            sample(stale, 4),
            sample(f64::from_bits(0x7ff8_0000_0000_0001), 5),
        ],
    );
    let store = Strictness {
        store_non_finite: true,
        ..Strictness::default()
    };
    let routing = routing();
    let p = plan(&b, &routing, store).unwrap();
    assert_eq!(p.ignored.total(), 0);
    type Planned<'a> = (Vec<(&'a str, &'a str)>, Vec<(f64, i64)>);
    let planned: Vec<Planned> = p
        .series
        .iter()
        .map(|s| {
            (
                p.dimensions_of(s)
                    .iter()
                    .map(|l| (l.name, l.value))
                    .collect(),
                p.samples_of(s)
                    .iter()
                    .map(|s| (s.value, s.timestamp_ms))
                    .collect(),
            )
        })
        .collect();
    let with = |kind| vec![("__value__", kind), ("instance", "a"), ("job", "j")];
    assert_eq!(
        planned,
        [
            (vec![("instance", "a"), ("job", "j")], vec![(1.0, 1)]),
            (with("stale"), vec![(0.0, 2), (0.0, 4)]),
            // Go's NaN: the quiet bit and 1, the low 52 bits.
            (with("NaN"), vec![((1u64 << 51 | 1) as f64, 5)]),
            (with("+Inf"), vec![(0.0, 3)]),
        ]
    );
    assert!(p.series.iter().all(|s| s.measure == "up" && s.source == 0));

    // Off: skipped and counted, as before.
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    assert_eq!(p.ignored.get(IgnoreReason::StaleMarker), 2);
    assert_eq!(p.ignored.get(IgnoreReason::NonFiniteValue), 2);
    // --fail-on-invalid-sample-value still refuses them.
    let strict = Strictness {
        fail_on_invalid_sample_value: true,
        ..store
    };
    assert!(plan(&b, &routing, strict).is_err());
}

#[test]
fn exemplars_are_planned_in_their_documented_form_and_never_refuse() {
    use crate::series::Exemplar;
    let mut b = batch(&[(&[("__name__", "req_total"), ("job", "j")], &[1.0])]);
    b.exemplar_labels = vec![Label {
        name: "trace_id",
        value: "abc",
    }];
    let exemplar = |labels: Range<u32>, value, timestamp_ms| Exemplar {
        labels,
        value,
        timestamp_ms,
    };
    b.exemplars = vec![
        exemplar(0..1, 2.5, 7),
        exemplar(0..0, f64::NAN, 7),
        exemplar(0..0, 1.0, 0),
    ];
    b.series[0].exemplars = 0..3;
    let routing = routing();
    let strict = Strictness {
        fail_on_invalid_sample_value: true,
        fail_on_long_label: true,
        ..Strictness::default()
    };
    let p = plan(&b, &routing, strict).unwrap();
    assert_eq!(p.received_exemplars, 3);
    assert_eq!(p.exemplar_series.len(), 1);
    let planned = &p.exemplar_series[0];
    assert_eq!(planned.measure, "__exemplar__");
    assert_eq!(
        p.dimensions_of(planned),
        [Label {
            name: "job",
            value: "j"
        }]
    );
    let stored = p.exemplars_of(planned);
    assert_eq!(stored.len(), 1);
    assert_eq!(
        (stored[0].metric, stored[0].labels.as_str(), stored[0].value),
        ("req_total", "{trace_id=\"abc\"}", 2.5)
    );
    assert_eq!(p.ignored_exemplars.get(IgnoreReason::NonFiniteValue), 1);
    assert_eq!(p.ignored_exemplars.get(IgnoreReason::MissingTimestamp), 1);
    assert_eq!(p.record_count(), 2);
}

#[test]
fn labels_named_like_the_stored_forms_are_reserved() {
    let routing = routing();
    for name in [
        "__value__",
        "__metric__",
        "__labels__",
        "__sum",
        "__schema",
        "__count_float_bits",
    ] {
        let b = batch(&[(&[("__name__", "m"), (name, "x")], &[1.0])]);
        let p = plan(&b, &routing, Strictness::default()).unwrap();
        assert_eq!(p.ignored.get(IgnoreReason::ReservedLabelName), 1, "{name}");
    }
    let b = batch(&[(&[("__name__", "m"), ("__other", "x")], &[1.0])]);
    assert_eq!(
        plan(&b, &routing, Strictness::default())
            .unwrap()
            .series
            .len(),
        1
    );
}

#[test]
fn metric_names_of_the_connectors_own_records_are_reserved() {
    let routing = routing();
    // Every name a multi-measure record may have (`__metrics__` and its first metric):
    // a read tells the forms apart by that prefix, and would drop such a metric.
    for name in ["__metrics__", "__metrics__up", "__exemplar__"] {
        let b = batch(&[(&[("__name__", name), ("job", "x")], &[1.0])]);
        let p = plan(&b, &routing, Strictness::default()).unwrap();
        assert_eq!(p.ignored.get(IgnoreReason::ReservedLabelName), 1, "{name}");
    }
    let b = batch(&[(&[("__name__", "__metric"), ("job", "x")], &[1.0])]);
    assert_eq!(
        plan(&b, &routing, Strictness::default())
            .unwrap()
            .series
            .len(),
        1
    );
}
