//! Timestream's metadata statements, which DataFusion does not have in Timestream's form:
//! `DESCRIBE db.table`, `SHOW DATABASES`, `SHOW TABLES [FROM db]`,
//! `SHOW MEASURES FROM db.table`. Answered from the catalog, as ordinary result rows.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};

use crate::error::Error;
use crate::record::ColumnKind;
use crate::store::Store;

/// The answer to `sql` if it is a metadata statement.
pub fn answer(sql: &str, store: &Store) -> Option<Result<RecordBatch, Error>> {
    let tokens = tokens(sql);
    let words: Vec<String> = tokens.iter().map(|t| t.to_ascii_uppercase()).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let catalog = store.read();
    let result = match words.as_slice() {
        ["DESCRIBE", ..] => qualified(&tokens[1..]).and_then(|(db, table)| {
            let t = catalog.table(&db, &table).map_err(not_found)?;
            let columns = t.columns();
            Ok(strings(
                &["Column", "Type", "Timestream attribute type"],
                columns
                    .iter()
                    .map(|(name, kind)| {
                        let (ty, attribute) = match kind {
                            ColumnKind::Dimension => ("varchar", "DIMENSION"),
                            ColumnKind::MeasureName => ("varchar", "MEASURE_NAME"),
                            ColumnKind::Time => ("timestamp", "TIMESTAMP"),
                            ColumnKind::MeasureValue(t) => (t.lower_name(), "MEASURE_VALUE"),
                            ColumnKind::Multi(t) => (t.lower_name(), "MULTI"),
                        };
                        vec![name.clone(), ty.to_string(), attribute.to_string()]
                    })
                    .collect(),
            ))
        }),
        ["SHOW", "DATABASES"] => Ok(strings(
            &["Database"],
            catalog.databases.keys().map(|d| vec![d.clone()]).collect(),
        )),
        ["SHOW", "TABLES", rest @ ..] => {
            let rows = match rest {
                [] => Ok(catalog
                    .databases
                    .values()
                    .flat_map(|d| d.tables.keys().map(|t| vec![t.clone()]))
                    .collect()),
                ["FROM" | "IN", _] => catalog
                    .database(&unquote(&tokens[3]))
                    .map_err(not_found)
                    .map(|d| d.tables.keys().map(|t| vec![t.clone()]).collect()),
                _ => Err(unsupported(sql)),
            };
            rows.map(|rows| strings(&["Table"], rows))
        }
        ["SHOW", "MEASURES", "FROM" | "IN", ..] => {
            qualified(&tokens[3..]).and_then(|(db, table)| {
                let t = catalog.table(&db, &table).map_err(not_found)?;
                let mut measures: Vec<(String, String)> = Vec::new();
                for row in &t.rows {
                    if !measures.iter().any(|(m, _)| *m == row.measure_name) {
                        let ty = match row.measures.as_slice() {
                            [(column, v)] if column.starts_with("measure_value::") => {
                                v.scalar_type().lower_name()
                            }
                            _ => "multi",
                        };
                        measures.push((row.measure_name.clone(), ty.to_string()));
                    }
                }
                measures.sort();
                Ok(strings(
                    &["measure_name", "data_type"],
                    measures.into_iter().map(|(m, t)| vec![m, t]).collect(),
                ))
            })
        }
        _ => return None,
    };
    Some(result)
}

fn not_found(e: Error) -> Error {
    Error::Validation(e.to_string())
}

fn unsupported(sql: &str) -> Error {
    Error::Validation(format!("Unsupported statement: {sql}"))
}

/// `db.table`, `"db"."table"`, or a mix: [db, ".", table].
fn qualified(tokens: &[String]) -> Result<(String, String), Error> {
    match tokens {
        [db, dot, table] if dot == "." => Ok((unquote(db), unquote(table))),
        _ => Err(Error::Validation(
            "Expected a table name qualified by its database, as \"database\".\"table\"".into(),
        )),
    }
}

fn unquote(token: &str) -> String {
    match token.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => token.to_string(),
    }
}

/// Words, quoted identifiers and dots; a trailing `;` is dropped.
fn tokens(sql: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = sql.trim().trim_end_matches(';').chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '"' {
            let mut token = String::from(chars.next().unwrap());
            while let Some(c) = chars.next() {
                token.push(c);
                if c == '"' {
                    if chars.peek() == Some(&'"') {
                        token.push(chars.next().unwrap());
                    } else {
                        break;
                    }
                }
            }
            tokens.push(token);
        } else if c == '.' {
            tokens.push(chars.next().unwrap().to_string());
        } else {
            let mut token = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '.' || c == '"' {
                    break;
                }
                token.push(c);
                chars.next();
            }
            tokens.push(token);
        }
    }
    tokens
}

fn strings(names: &[&str], rows: Vec<Vec<String>>) -> RecordBatch {
    let schema = Schema::new(
        names
            .iter()
            .map(|n| Field::new(*n, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    );
    let columns: Vec<ArrayRef> = (0..names.len())
        .map(|c| {
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r[c].as_str()),
            )) as ArrayRef
        })
        .collect();
    RecordBatch::try_new(Arc::new(schema), columns).expect("columns match the schema")
}
