use super::*;

type Labels = Vec<(String, String)>;

#[derive(Default)]
struct Collect(Vec<(Labels, Vec<(i64, f64)>)>, Vec<(usize, Histogram)>);

impl SeriesSink for Collect {
    fn start_series(&mut self, labels: &[(&str, &str)]) {
        let labels = labels
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        self.0.push((labels, vec![]));
    }
    fn sample(&mut self, t: i64, v: f64) {
        self.0.last_mut().unwrap().1.push((t, v));
    }
    fn histogram(&mut self, h: &Histogram) {
        self.1.push((self.0.len() - 1, h.clone()));
    }
    fn end_series(&mut self) {}
}

fn row<'a>(cells: &[Option<&'a str>]) -> Vec<Option<&'a str>> {
    cells.to_vec()
}

#[test]
fn ordered_rows_become_whole_series_with_sorted_labels() {
    let mut a = Assembler::new(vec!["job".into(), "Zone".into(), "instance".into()], false);
    let mut sink = Collect::default();
    let page = Page::from_rows([
        row(&[
            Some("up"),
            Some("a"),
            None,
            Some("i1"),
            Some("1"),
            Some("1.0"),
        ]),
        row(&[
            Some("up"),
            Some("a"),
            None,
            Some("i1"),
            Some("2"),
            Some("0.5"),
        ]),
        row(&[
            Some("up"),
            Some("b"),
            Some("Z"),
            Some(""),
            Some("1"),
            Some("1.0E7"),
        ]),
    ]);
    for r in page.rows() {
        a.push(r, &mut sink).unwrap();
    }
    a.finish(&mut sink);
    let labels = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        sink.0,
        vec![
            (
                labels(&[("__name__", "up"), ("instance", "i1"), ("job", "a")]),
                vec![(1, 1.0), (2, 0.5)]
            ),
            (
                labels(&[("Zone", "Z"), ("__name__", "up"), ("job", "b")]),
                vec![(1, 1e7)]
            ),
        ]
    );
    let short = Page::from_rows([row(&[Some("up")])]);
    assert!(a.push(short.rows().next().unwrap(), &mut sink).is_err());
}

#[test]
fn routing_matchers_pick_the_table_and_are_not_filters() {
    let routing = Arc::new(Routing {
        default_database: "db".into(),
        default_table: "tbl".into(),
        database_label: Some("tsdb".into()),
        table_label: Some("tstable".into()),
    });
    struct Never;
    impl QueryBackend for Never {
        fn query<'a>(
            &'a self,
            _: &'a str,
            _: Option<&'a str>,
            _: Option<&'a Credentials>,
        ) -> futures::future::BoxFuture<'a, Result<Page, BackendError>> {
            unreachable!()
        }
    }
    let reader = Reader::new(
        Arc::new(Never),
        RetryPolicy {
            max_attempts: 1,
            base_delay: Default::default(),
            max_delay: Default::default(),
        },
        routing,
    );
    let m = |kind, name: &str, value: &str| Matcher {
        kind,
        name: name.into(),
        value: value.into(),
    };
    let target = reader
        .target(vec![
            m(MatchKind::Equal, "tstable", "other"),
            m(MatchKind::Equal, "job", "x"),
        ])
        .unwrap();
    assert_eq!(
        (target.database.as_str(), target.table.as_str()),
        ("db", "other")
    );
    assert_eq!(target.matchers, vec![m(MatchKind::Equal, "job", "x")]);
    assert!(reader
        .target(vec![m(MatchKind::Regex, "tsdb", "a|b")])
        .is_err());
}

#[test]
fn non_finite_rows_fall_in_place_in_their_series() {
    let mut a = Assembler::new(vec!["job".into()], true);
    let mut sink = Collect::default();
    let page = Page::from_rows([
        vec![Some("up"), Some("a"), None, Some("1"), Some("1.0")],
        vec![Some("up"), Some("a"), Some("stale"), Some("2"), Some("0.0")],
        vec![Some("up"), Some("a"), Some("NaN"), Some("3"), Some("-1.0")],
        vec![Some("up"), Some("a"), None, Some("4"), Some("2.0")],
        vec![Some("up"), Some("b"), Some("-Inf"), Some("1"), Some("0.0")],
    ]);
    for r in page.rows() {
        a.push(r, &mut sink).unwrap();
    }
    a.finish(&mut sink);
    let bits: Vec<(usize, Vec<(i64, u64)>)> = sink
        .0
        .iter()
        .map(|(labels, samples)| {
            (
                labels.len(),
                samples.iter().map(|&(t, v)| (t, v.to_bits())).collect(),
            )
        })
        .collect();
    assert_eq!(
        bits,
        [
            (
                2,
                vec![
                    (1, 1f64.to_bits()),
                    (2, crate::series::STALE_NAN_BITS),
                    (3, 0xfff0_0000_0000_0001),
                    (4, 2f64.to_bits())
                ]
            ),
            (2, vec![(1, f64::NEG_INFINITY.to_bits())]),
        ]
    );
    let bad = Page::from_rows([vec![
        Some("up"),
        Some("a"),
        Some("huh"),
        Some("1"),
        Some("0"),
    ]]);
    assert!(a.push(bad.rows().next().unwrap(), &mut sink).is_err());
}

#[test]
fn histogram_rows_become_histograms_among_float_samples() {
    let measures = vec![histograms::SCHEMA, "__sum", "__count", "__positive_deltas"];
    let select = sql::select_values(
        "db",
        "t",
        &TableColumns {
            dimensions: vec!["job".into()],
            non_finite: false,
            values: Values {
                float: true,
                histograms: measures,
            },
            exemplars: true,
            multi: Vec::new(),
        },
        &[crate::series::Matcher {
            kind: MatchKind::Equal,
            name: "job".into(),
            value: "a".into(),
        }],
        0,
        10,
    )
    .unwrap()
    .unwrap();
    assert!(select.sql.contains(
        "to_milliseconds(time), measure_value::double, \"__schema\", \"__sum\", \"__count\", \"__positive_deltas\" FROM"
    ), "{}", select.sql);
    assert!(select.sql.contains("measure_name <> '__exemplar__'"));
    let mut a = Assembler::for_select(&select);
    let mut sink = Collect::default();
    let page = Page::from_rows([
        vec![
            Some("h"),
            Some("a"),
            Some("1"),
            Some("0.5"),
            None,
            None,
            None,
            None,
        ],
        vec![
            Some("h"),
            Some("a"),
            Some("2"),
            None,
            Some("0"),
            Some("2.5"),
            Some("3"),
            Some("1,1"),
        ],
        vec![
            Some("h"),
            Some("b"),
            Some("3"),
            None,
            Some("0"),
            Some("1.0"),
            Some("0"),
            None,
        ],
    ]);
    for r in page.rows() {
        a.push(r, &mut sink).unwrap();
    }
    a.finish(&mut sink);
    assert_eq!(sink.0.len(), 2);
    assert_eq!(sink.0[0].1, vec![(1, 0.5)]);
    assert!(sink.0[1].1.is_empty());
    let got: Vec<(usize, i64, f64)> = sink
        .1
        .iter()
        .map(|(series, h)| (*series, h.timestamp_ms, h.sum))
        .collect();
    assert_eq!(got, [(0, 2, 2.5), (1, 3, 1.0)]);
    assert_eq!(
        sink.1[0].1.counts,
        crate::histogram::Counts::Integer {
            count: 3,
            zero_count: 0,
            positive_deltas: vec![1, 1],
            negative_deltas: vec![],
        }
    );
    // Neither a value nor a histogram: not a row of ours.
    let bad = Page::from_rows([vec![
        Some("h"),
        Some("a"),
        Some("4"),
        None,
        None,
        None,
        None,
        None,
    ]]);
    assert!(a.push(bad.rows().next().unwrap(), &mut sink).is_err());
}

#[test]
fn a_sample_in_both_forms_reads_back_once_with_the_multi_measure_value() {
    let columns = TableColumns {
        dimensions: vec!["job".into()],
        non_finite: false,
        values: Values::floats(),
        exemplars: false,
        multi: vec!["up".into()],
    };
    let select = sql::select_values("db", "t", &columns, &[], 0, 10)
        .unwrap()
        .unwrap();
    assert!(select.form, "{}", select.sql);
    let mut a = Assembler::for_select(&select);
    let mut sink = Collect::default();
    // As the ORDER BY gives them: by series, time, then form (multi-measure first).
    let page = Page::from_rows([
        row(&[Some("up"), Some("a"), Some("1"), Some("1.0"), Some("0")]),
        row(&[Some("up"), Some("a"), Some("1"), Some("5.0"), Some("1")]),
        row(&[Some("up"), Some("a"), Some("2"), Some("2.0"), Some("1")]),
    ]);
    for r in page.rows() {
        a.push(r, &mut sink).unwrap();
    }
    a.finish(&mut sink);
    assert_eq!(
        sink.0,
        [(
            vec![
                ("__name__".to_string(), "up".to_string()),
                ("job".to_string(), "a".to_string())
            ],
            vec![(1, 1.0), (2, 2.0)]
        )]
    );
    // Without the form cell the row is refused, not misread.
    let short = Page::from_rows([row(&[Some("up"), Some("a"), Some("3"), Some("1.0")])]);
    assert!(a.push(short.rows().next().unwrap(), &mut sink).is_err());
}
