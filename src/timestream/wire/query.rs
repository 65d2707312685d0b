//! Query: the request for a statement and a page, and the answer read into a [`Page`].

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::string;
use crate::timestream::backend::Page;

/// The `X-Amz-Target` of a Query request.
pub const QUERY_TARGET: &str = "Timestream_20181101.Query";

/// The Query request body for `sql`, continuing at `next_token`.
pub fn query(sql: &str, next_token: Option<&str>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"QueryString\":");
    string(out, sql);
    if let Some(token) = next_token {
        out.extend_from_slice(b",\"NextToken\":");
        string(out, token);
    }
    out.push(b'}');
}

/// A Query answer's body as a [`Page`]: the rows' scalar cells (anything else, such as
/// a time series cell, is NULL, as the connector selects none), the next token and the
/// bytes scanned so far. Parsed in one pass into the page's one text buffer, without a
/// value per cell.
pub fn query_page(body: &[u8]) -> Result<Page, serde_json::Error> {
    let mut page = Page::default();
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    PageSeed(&mut page).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(page)
}

/// The members of the objects a Query answer nests, by name; others are skipped.
#[derive(Deserialize)]
enum Member {
    Rows,
    NextToken,
    QueryStatus,
    Data,
    ScalarValue,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueryStatus {
    #[serde(default)]
    cumulative_bytes_scanned: i64,
}

/// Each seed below reads one level of the answer into the page.
struct PageSeed<'p>(&'p mut Page);
struct RowsSeed<'p>(&'p mut Page);
struct RowSeed<'p>(&'p mut Page);
struct DataSeed<'p>(&'p mut Page);
struct DatumSeed<'p>(&'p mut Page);
/// A scalar cell's text, appended to the page without a `String` of its own.
struct ScalarSeed<'p>(&'p mut Page);

macro_rules! seed {
    ($seed:ident, $expecting:literal, $deserialize:ident, $($visit:tt)*) => {
        impl<'de> DeserializeSeed<'de> for $seed<'_> {
            type Value = ();
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
                d.$deserialize(self)
            }
        }
        impl<'de> Visitor<'de> for $seed<'_> {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str($expecting)
            }
            $($visit)*
        }
    };
}

seed!(
    PageSeed,
    "a Query answer",
    deserialize_map,
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::Rows => map.next_value_seed(RowsSeed(self.0))?,
                Member::NextToken => self.0.next_token = map.next_value()?,
                Member::QueryStatus => {
                    let status: QueryStatus = map.next_value()?;
                    self.0.bytes_scanned = status.cumulative_bytes_scanned.max(0) as u64;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
);

seed!(
    RowsSeed,
    "rows",
    deserialize_seq,
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(RowSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
);

seed!(
    RowSeed,
    "a row",
    deserialize_map,
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::Data => map.next_value_seed(DataSeed(&mut *self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.0.end_row();
        Ok(())
    }
);

seed!(
    DataSeed,
    "a row's cells",
    deserialize_seq,
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(DatumSeed(&mut *self.0))?.is_some() {}
        Ok(())
    }
);

seed!(
    DatumSeed,
    "a cell",
    deserialize_map,
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut scalar = false;
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::ScalarValue if !scalar => {
                    map.next_value_seed(ScalarSeed(&mut *self.0))?;
                    scalar = true;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !scalar {
            self.0.push_cell(None);
        }
        Ok(())
    }
);

seed!(
    ScalarSeed,
    "a scalar value",
    deserialize_str,
    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<(), E> {
        self.0.push_cell(Some(text));
        Ok(())
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_answers_become_pages_of_cells() {
        let body = br#"{"QueryId":"q1","Rows":[{"Data":[{"ScalarValue":"up"},{"NullValue":true},{"ScalarValue":"a\"b\u00e9"}]},{"Data":[{"ScalarValue":"x"},{"TimeSeriesValue":[]},{"ScalarValue":""}]}],"ColumnInfo":[{"Name":"a","Type":{"ScalarType":"VARCHAR"}}],"NextToken":"t2","QueryStatus":{"ProgressPercentage":100.0,"CumulativeBytesScanned":1234,"CumulativeBytesMetered":10000000}}"#;
        let page = query_page(body).unwrap();
        let rows: Vec<Vec<Option<&str>>> = page.rows().map(|r| r.cells().collect()).collect();
        assert_eq!(
            rows,
            [
                vec![Some("up"), None, Some("a\"bé")],
                vec![Some("x"), None, Some("")]
            ]
        );
        assert_eq!(page.next_token.as_deref(), Some("t2"));
        assert_eq!(page.bytes_scanned, 1234);
        let last = query_page(br#"{"Rows":[],"QueryStatus":{}}"#).unwrap();
        assert_eq!((last.row_count(), last.next_token), (0, None));
        assert!(query_page(br#"{"Rows":[{"Data":[{"ScalarValue":1}]}]}"#).is_err());
        assert!(query_page(b"{\"Rows\":[").is_err());
    }

    #[test]
    fn query_requests_carry_the_statement_and_the_token() {
        let mut out = Vec::new();
        query("SELECT \"a\" FROM t", Some("tok"), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"QueryString":"SELECT \"a\" FROM t","NextToken":"tok"}"#
        );
    }
}
