//! Query as Timestream documents it: pages, Timestream's SQL functions, errors and
//! cancellation.

use aws_sdk_timestreamwrite::error::ProvideErrorMetadata;
use aws_sdk_timestreamwrite::types::Record;

use super::{with_table, DB};
use crate::support::{self, now_ms, record};

// Query (API_Query): results come in pages of at most MaxRows, each but the last with a
// NextToken for the same QueryString; every page carries ColumnInfo.
#[tokio::test]
async fn query_results_are_paginated_by_max_rows() {
    let s = with_table("tbl").await;
    let t = now_ms() - 60_000;
    let records: Vec<Record> = (0..25)
        .map(|i| record("m", &[("i", &i.to_string())], "1", t + i))
        .collect();
    s.write_records("tbl", None, records).await.unwrap();
    let sql = format!("SELECT i FROM \"{DB}\".\"tbl\" ORDER BY time");
    let mut token = None;
    let mut pages = Vec::new();
    loop {
        let page = s
            .query
            .query()
            .query_string(&sql)
            .max_rows(10)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert_eq!(page.column_info().len(), 1);
        pages.push(page.rows().len());
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, [10, 10, 5]);
    let other = s
        .query
        .query()
        .query_string("SELECT 1")
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(other.code(), Some("ValidationException"));
}

// Timestream SQL (date-time-functions, regex-functions): ago, bin, from_milliseconds,
// from_unixtime, to_milliseconds, interval literals, and regexp_like matching anywhere
// in the string unless anchored.
#[tokio::test]
async fn timestream_functions_and_partial_regex_matching() {
    let s = with_table("tbl").await;
    let t = (now_ms() - 10 * 60_000) / 60_000 * 60_000; // on a minute boundary
    let records = vec![
        record("http_requests", &[("path", "/api/v1")], "1", t + 15_000),
        record("http_requests", &[("path", "/health")], "2", t + 75_000),
    ];
    s.write_records("tbl", None, records).await.unwrap();
    let q = |sql: &str| sql.replace("TBL", &format!("\"{DB}\".\"tbl\""));
    let (_, rows) = s
        .query_all(&q("SELECT bin(time, 1m), to_milliseconds(time) FROM TBL WHERE time > ago(1h) AND time BETWEEN from_milliseconds(0) AND now() ORDER BY time"))
        .await;
    assert_eq!(
        rows[0][0].as_deref(),
        Some(support::timestamp_text(t * 1_000_000).as_str())
    );
    assert_eq!(
        rows[1][1].as_deref(),
        Some((t + 75_000).to_string().as_str())
    );
    let (_, rows) = s
        .query_all(&q(&format!(
            "SELECT count(*) FROM TBL WHERE time >= from_unixtime({}) ",
            (t + 60_000) / 1000
        )))
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("1"));
    let count = |pattern: &str| {
        let sql = q(&format!(
            "SELECT count(*) FROM TBL WHERE regexp_like(path, '{pattern}')"
        ));
        let s = &s;
        async move { s.query_all(&sql).await.1[0][0].clone().unwrap() }
    };
    assert_eq!(count("api").await, "1", "a match anywhere counts");
    assert_eq!(count("^api").await, "0", "anchors anchor");
    assert_eq!(count("^/(api|health)").await, "2");
    let (_, rows) = s
        .query_all(&q("SELECT count(*) FROM TBL WHERE time > ago(30s)"))
        .await;
    assert_eq!(rows[0][0].as_deref(), Some("0"));
}

// Errors (API_Query, common errors): a column the table never had is "Column 'x' does
// not exist"; an unknown table or a syntax error is a ValidationException.
#[tokio::test]
async fn unknown_columns_and_tables_are_validation_exceptions() {
    let s = with_table("tbl").await;
    s.write_records("tbl", None, vec![record("m", &[("a", "1")], "1", now_ms())])
        .await
        .unwrap();
    let message = |sql: String| {
        let s = &s;
        async move {
            let err = s.query.query().query_string(sql).send().await.unwrap_err();
            assert_eq!(err.code(), Some("ValidationException"));
            err.message().unwrap_or_default().to_string()
        }
    };
    assert_eq!(
        message(format!("SELECT nope FROM \"{DB}\".\"tbl\"")).await,
        "line 1:8: Column 'nope' does not exist"
    );
    assert!(message(format!(
        "SELECT * FROM \"{DB}\".\"tbl\" WHERE measure_value::bigint = 1"
    ))
    .await
    .contains("Column 'measure_value::bigint' does not exist"));
    assert_eq!(
        message(format!("SELECT * FROM \"{DB}\".\"missing\"")).await,
        format!(
            "line 1:{}: Table '{DB}.missing' does not exist",
            DB.len() + 18
        )
    );
    assert_eq!(
        message("SELECT * FROM \"nodb\".\"t\"".into()).await,
        "line 1:15: Database 'nodb' does not exist"
    );
    assert!(!message("SELEC 1".into()).await.is_empty());
    let denied = message(format!("DROP TABLE \"{DB}\".\"tbl\"")).await;
    assert!(!denied.is_empty());
    assert_eq!(s.count("tbl").await, 1);
}

// API_CancelQuery: a running query's cursor can be cancelled; its NextToken stops working.
#[tokio::test]
async fn cancel_query_ends_a_paginated_query() {
    let s = with_table("tbl").await;
    let t = now_ms() - 1000;
    let records: Vec<Record> = (0..5).map(|i| record("m", &[], "1", t - i)).collect();
    s.write_records("tbl", None, records).await.unwrap();
    let sql = format!("SELECT time FROM \"{DB}\".\"tbl\"");
    let first = s
        .query
        .query()
        .query_string(&sql)
        .max_rows(2)
        .send()
        .await
        .unwrap();
    let cancelled = s
        .query
        .cancel_query()
        .query_id(first.query_id())
        .send()
        .await
        .unwrap();
    assert!(cancelled.cancellation_message().is_some());
    let next = s
        .query
        .query()
        .query_string(&sql)
        .set_next_token(first.next_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(next.code(), Some("ValidationException"));
}
