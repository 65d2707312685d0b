use super::*;
use crate::series::SeriesBatch;
use crate::timestream::records::{plan, Routing, Strictness};

fn routing() -> Routing {
    Routing {
        default_database: "db1".into(),
        default_table: "tbl1".into(),
        database_label: None,
        table_label: Some("table".into()),
    }
}

#[test]
fn calls_hold_at_most_100_records_of_one_table_and_lose_none() {
    let names: Vec<String> = (0..250).map(|i| format!("m{i}")).collect();
    let mut b = SeriesBatch::default();
    for (i, name) in names.iter().enumerate() {
        let table = if i % 3 == 0 { "other" } else { "tbl1" };
        let labels = [
            Label {
                name: "__name__",
                value: name,
            },
            Label {
                name: "job",
                value: "j",
            },
            Label {
                name: "table",
                value: table,
            },
        ];
        b.push(
            &labels,
            &[
                Sample {
                    value: i as f64,
                    timestamp_ms: 5,
                },
                Sample {
                    value: -(i as f64),
                    timestamp_ms: 6,
                },
            ],
        );
    }
    let routing = routing();
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    let calls = calls(&p);
    assert!(calls
        .iter()
        .all(|c| !c.records.is_empty() && c.records.len() <= MAX_RECORDS_PER_CALL));
    let total: usize = calls.iter().map(|c| c.records.len()).sum();
    assert_eq!(total, 500);
    let mut seen: Vec<(String, &str, i64)> = calls
        .iter()
        .flat_map(|c| {
            c.records.iter().map(move |r| {
                (
                    format!("{}:{}", r.measure, r.sample.value),
                    c.destination.table,
                    r.sample.timestamp_ms,
                )
            })
        })
        .collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 500, "every sample exactly once");
    for c in &calls {
        for r in &c.records {
            let i: usize = r.measure[1..].parse().unwrap();
            assert_eq!(
                c.destination.table,
                if i % 3 == 0 { "other" } else { "tbl1" }
            );
        }
    }
}

#[test]
fn common_attributes_are_what_every_record_shares() {
    let mut b = SeriesBatch::default();
    let series = [
        [
            ("__name__", "up"),
            ("instance", "a"),
            ("job", "node"),
            ("zone", "1"),
        ],
        [
            ("__name__", "up"),
            ("instance", "b"),
            ("job", "node"),
            ("zone", "1"),
        ],
    ];
    for labels in &series {
        let labels: Vec<Label> = labels
            .iter()
            .map(|&(name, value)| Label { name, value })
            .collect();
        b.push(
            &labels,
            &[Sample {
                value: 1.0,
                timestamp_ms: 7,
            }],
        );
    }
    let routing = routing();
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    let calls = calls(&p);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    let common: Vec<_> = call
        .common
        .dimensions
        .iter()
        .map(|l| (l.name, l.value))
        .collect();
    assert_eq!(common, [("job", "node"), ("zone", "1")]);
    assert_eq!(call.common.measure, Some("up"));
    assert_eq!(call.common.time_ms, Some(7));
    let mut own: Vec<Vec<_>> = call
        .records
        .iter()
        .map(|r| {
            r.own_dimensions(&call.common)
                .map(|l| (l.name, l.value))
                .collect()
        })
        .collect();
    own.sort();
    assert_eq!(own, [vec![("instance", "a")], vec![("instance", "b")]]);
}

#[test]
fn common_attributes_cut_the_billed_bytes() {
    let call_of = |common: Common<'static>| {
        static DIMS: [Label<'static>; 2] = [
            Label {
                name: "job",
                value: "node",
            },
            Label {
                name: "zone",
                value: "eu",
            },
        ];
        let records = (0..100)
            .map(|i| Record {
                source: 0,
                measure: "up",
                dimensions: &DIMS,
                sample: Sample {
                    value: 1.0,
                    timestamp_ms: i,
                },
                histogram: None,
                exemplar: None,
                multi: None,
            })
            .collect();
        WriteCall {
            destination: Destination {
                database: "d",
                table: "t",
            },
            common,
            records,
        }
    };
    let plain = call_of(Common::default());
    // Per record: 8 time + 2 measure + 8 DOUBLE + 7 job=node + 6 zone=eu.
    assert_eq!(plain.billed_bytes(), 100 * 31);
    assert_eq!(plain.billed_units(), 4);
    let shared = call_of(Common {
        dimensions: vec![
            Label {
                name: "job",
                value: "node",
            },
            Label {
                name: "zone",
                value: "eu",
            },
        ],
        measure: Some("up"),
        time_ms: None,
    });
    assert_eq!(shared.billed_bytes(), 13 + 2 + 100 * 16);
    assert_eq!(shared.billed_units(), 2);
}

#[test]
fn series_of_one_target_share_calls_even_when_interleaved() {
    let names: Vec<String> = (0..200).map(|i| format!("metric_{i}")).collect();
    let mut b = SeriesBatch::default();
    for (i, name) in names.iter().enumerate() {
        let instance = if i % 2 == 0 {
            "host-a:9100"
        } else {
            "host-b:9100"
        };
        let labels = [
            Label {
                name: "__name__",
                value: name,
            },
            Label {
                name: "instance",
                value: instance,
            },
            Label {
                name: "job",
                value: "node",
            },
        ];
        b.push(
            &labels,
            &[Sample {
                value: 1.0,
                timestamp_ms: 9,
            }],
        );
    }
    let routing = routing();
    let p = plan(&b, &routing, Strictness::default()).unwrap();
    let calls = calls(&p);
    assert_eq!(calls.len(), 2);
    for call in &calls {
        let names: Vec<&str> = call.common.dimensions.iter().map(|l| l.name).collect();
        assert_eq!(names, ["instance", "job"], "each call holds one target");
        assert!(call
            .records
            .iter()
            .all(|r| r.own_dimensions(&call.common).count() == 0));
    }
}

#[test]
fn nothing_planned_means_no_calls() {
    let p = crate::timestream::records::Plan::default();
    assert!(calls(&p).is_empty());
}
