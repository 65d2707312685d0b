//! Timestream Local against Timestream's documented behaviour, through the official SDKs.
//! Each case cites what it checks from the Timestream Developer Guide or API reference;
//! none is written from the connector's code.

mod support;

#[path = "conformance/queries.rs"]
mod queries;
#[path = "conformance/writes.rs"]
mod writes;

use aws_sdk_timestreamwrite::error::ProvideErrorMetadata;
use support::Server;

const DB: &str = "conformance";

async fn with_table(table: &str) -> Server {
    let server = Server::start().await;
    server.create(DB, table).await;
    server
}

// API_CreateDatabase / API_CreateTable: an existing name is a ConflictException, a
// missing database a ResourceNotFoundException; tables default to 6 h memory store and
// 73000 days magnetic store (API_RetentionProperties).
#[tokio::test]
async fn databases_and_tables_are_created_described_listed_and_deleted() {
    let s = with_table("tb1").await;
    let w = &s.write;
    let again = w
        .create_database()
        .database_name(DB)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("ConflictException"));
    let missing = w
        .create_table()
        .database_name("nodb")
        .table_name("tbl")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("ResourceNotFoundException"));
    let bad = w
        .create_database()
        .database_name("a b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("ValidationException"));

    let table = w
        .describe_table()
        .database_name(DB)
        .table_name("tb1")
        .send()
        .await
        .unwrap()
        .table
        .unwrap();
    let retention = table.retention_properties.unwrap();
    assert_eq!(retention.memory_store_retention_period_in_hours, 6);
    assert_eq!(retention.magnetic_store_retention_period_in_days, 73000);
    assert_eq!(table.table_status.unwrap().as_str(), "ACTIVE");

    // ListTables pages with MaxResults and NextToken.
    for name in ["tb2", "tb3"] {
        w.create_table()
            .database_name(DB)
            .table_name(name)
            .send()
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = w
            .list_tables()
            .database_name(DB)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.tables().len() <= 2);
        names.extend(
            page.tables()
                .iter()
                .map(|t| t.table_name().unwrap().to_string()),
        );
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["tb1", "tb2", "tb3"]);
    let dbs = w.list_databases().send().await.unwrap();
    assert_eq!(dbs.databases()[0].table_count, 3);

    w.delete_table()
        .database_name(DB)
        .table_name("tb2")
        .send()
        .await
        .unwrap();
    let gone = w
        .describe_table()
        .database_name(DB)
        .table_name("tb2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Some("ResourceNotFoundException"));
}

// API_DescribeEndpoints: both services answer with an address and a cache period.
#[tokio::test]
async fn describe_endpoints_answers_on_both_apis() {
    let s = Server::start().await;
    let w = s.write.describe_endpoints().send().await.unwrap();
    assert_eq!(w.endpoints()[0].cache_period_in_minutes, 1440);
    let q = s.query.describe_endpoints().send().await.unwrap();
    assert!(q.endpoints()[0].address().contains("127.0.0.1"));
}
