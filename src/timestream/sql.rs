//! Prometheus label matchers as Timestream SQL, with Prometheus' semantics.
//!
//! Pure: a table's dimension columns and a query in, SQL text out. What Prometheus means
//! and Timestream's SQL does not say by itself:
//! - A label a series lacks has the value "": `l=""`, `l!="x"` and `l!~"x"` match
//!   series without `l` (NULL in Timestream), and a matcher on a column the table has
//!   never had is decided here, without asking Timestream.
//! - Regexes match the whole value: `^(?s:re)\z` (Prometheus anchors and lets `.`
//!   match newlines), rewritten from RE2 into syntax that reads the same in Java (which
//!   Timestream uses) and in Rust (which Timestream Local uses), or refused
//!   ([`regex_dialect`]).
//! - Values are SQL string literals with quotes doubled, identifiers are quoted: no
//!   label value or name can change the statement.
//! - The time range is inclusive at both ends, to the millisecond.

use thiserror::Error;

mod regex_dialect;
pub use self::regex_dialect::portable_regex;

use crate::series::{MatchKind, Matcher, METRIC_NAME_LABEL};

/// The column that holds a series' metric name.
pub const MEASURE_NAME: &str = "measure_name";
/// The column the connector writes sample values to.
pub const VALUE_COLUMN: &str = "measure_value::double";
/// The column of the metric names a read of multi-measure records joins with: a name no
/// dimension can have ([`super::quota::is_reserved_dimension`]).
pub const METRIC_COLUMN: &str = "__metric_name__";

/// When both forms are read at once, the last column of a row: 0 for a multi-measure
/// record's measure, 1 for a single-measure record. Rows of one series and time come
/// multi-measure first: see [`select_values`].
pub const FORM_COLUMN: &str = "__form__";

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TranslateError {
    #[error("invalid regular expression {pattern:?} for label {label}: {reason}")]
    Regex {
        label: String,
        pattern: String,
        reason: String,
    },
    #[error("start time {start} is after end time {end}")]
    Range { start: i64, end: i64 },
}

/// What to ask Timestream for one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Select {
    pub sql: String,
    /// The dimension columns selected, in the order they follow `measure_name`.
    pub dimensions: Vec<String>,
    /// Whether `__value__` follows them (non-finite values, [`super::nonfinite`]).
    pub non_finite: bool,
    /// The value columns after the time.
    pub values: Values,
    /// Whether rows end with [`FORM_COLUMN`] (both forms are read).
    pub form: bool,
}

/// The value columns a table has, of those the connector writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    /// `measure_value::double`: float samples.
    pub float: bool,
    /// The measures of native histograms ([`super::histograms`]) the table has, in
    /// [`super::histograms::MEASURES`] order.
    pub histograms: Vec<&'static str>,
}

/// What a table holds, as far as a read is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableColumns {
    pub dimensions: Vec<String>,
    /// Whether it has `__value__` (non-finite values, [`super::nonfinite`]).
    pub non_finite: bool,
    pub values: Values,
    /// Whether it has exemplars ([`super::exemplars`]), which reads leave out.
    pub exemplars: bool,
    /// The metrics of its multi-measure records of float samples ([`super::multi`]):
    /// the DOUBLE measures that are not a histogram's.
    pub multi: Vec<String>,
}

impl Values {
    /// Float samples only.
    pub fn floats() -> Values {
        Values {
            float: true,
            histograms: Vec::new(),
        }
    }
}

/// The SELECT for `matchers` over `[start_ms, end_ms]` in `"database"."table"` whose
/// dimension columns are `dimensions` and whose values are float samples; `None` when
/// no series can match. See [`select_values`].
pub fn select(
    database: &str,
    table: &str,
    dimensions: &[String],
    non_finite: bool,
    matchers: &[Matcher],
    start_ms: i64,
    end_ms: i64,
) -> Result<Option<Select>, TranslateError> {
    let columns = TableColumns {
        dimensions: dimensions.to_vec(),
        non_finite,
        values: Values::floats(),
        exemplars: false,
        multi: Vec::new(),
    };
    select_values(database, table, &columns, matchers, start_ms, end_ms)
}

/// The SELECT for `matchers` over `[start_ms, end_ms]` in `"database"."table"` whose
/// columns are `columns`; `None` when no series can match.
///
/// Rows come as `measure_name, dimensions…, time in ms, values…`, ordered by series,
/// then time, so that each series arrives whole and in order however many pages it
/// spans. With `non_finite`, `__value__` comes before the time: it is not part of the
/// series (not a label, not in the order), so a series' non-finite values fall in place
/// among its other samples. The values are `measure_value::double` (NULL in a
/// histogram's row) and the histogram measures (NULL in a float sample's).
pub fn select_values(
    database: &str,
    table: &str,
    columns: &TableColumns,
    matchers: &[Matcher],
    start_ms: i64,
    end_ms: i64,
) -> Result<Option<Select>, TranslateError> {
    if start_ms > end_ms {
        return Err(TranslateError::Range {
            start: start_ms,
            end: end_ms,
        });
    }
    let TableColumns {
        dimensions,
        non_finite,
        values,
        exemplars,
        multi,
    } = columns;
    let time =
        format!("time BETWEEN from_milliseconds({start_ms}) AND from_milliseconds({end_ms})");
    let mut conditions = vec![time.clone()];
    if *exemplars {
        conditions.push(format!(
            "{MEASURE_NAME} <> {}",
            literal(super::exemplars::MEASURE)
        ));
    }
    if !multi.is_empty() {
        conditions.push(format!(
            "{} <> {}",
            multi_prefix(),
            literal(super::multi::MEASURE)
        ));
    }
    // The label conditions, which the multi-measure form shares.
    let mut labels = Vec::new();
    for m in matchers {
        let column = if m.name == METRIC_NAME_LABEL {
            Column::MeasureName
        } else if dimensions.contains(&m.name) {
            Column::Dimension(&m.name)
        } else {
            Column::Absent
        };
        let is_name = m.name == METRIC_NAME_LABEL;
        match condition(m, column)? {
            Condition::Always => {}
            Condition::Never => return Ok(None),
            Condition::Sql(sql) if is_name => conditions.push(sql),
            Condition::Sql(sql) => labels.push(sql),
        }
    }
    conditions.extend(labels.iter().cloned());
    let metrics = matching_metrics(multi, matchers)?;
    if !metrics.is_empty() {
        let sql = select_both(
            database,
            table,
            columns,
            &conditions,
            (&time, &labels),
            &metrics,
        );
        return Ok(Some(Select {
            sql,
            dimensions: dimensions.clone(),
            non_finite: *non_finite,
            values: Values {
                float: true,
                histograms: values.histograms.clone(),
            },
            form: true,
        }));
    }
    // A table of multi-measure records alone has no single-measure value to select.
    if !values.float && values.histograms.is_empty() {
        return Ok(None);
    }
    let mut series_columns = vec![MEASURE_NAME.to_string()];
    series_columns.extend(dimensions.iter().map(|d| identifier(d)));
    if *non_finite {
        series_columns.push(identifier(super::nonfinite::DIMENSION));
    }
    // Unquoted, as Timestream documents the typed measure columns.
    let mut value_columns: Vec<String> = values
        .float
        .then(|| VALUE_COLUMN.to_string())
        .into_iter()
        .collect();
    value_columns.extend(values.histograms.iter().map(|m| identifier(m)));
    let sql = format!(
        "SELECT {columns}, to_milliseconds(time), {value} FROM {db}.{table} WHERE {conditions} ORDER BY {order}, time",
        columns = series_columns.join(", "),
        value = value_columns.join(", "),
        db = identifier(database),
        table = identifier(table),
        conditions = conditions.join(" AND "),
        order = label_order(dimensions),
    );
    Ok(Some(Select {
        sql,
        dimensions: dimensions.clone(),
        non_finite: *non_finite,
        values: values.clone(),
        form: false,
    }))
}

/// The metrics of `multi` that the name matchers of `matchers` select, in order.
fn matching_metrics<'m>(
    multi: &'m [String],
    matchers: &[Matcher],
) -> Result<Vec<&'m str>, TranslateError> {
    let mut metrics: Vec<&str> = multi.iter().map(String::as_str).collect();
    for m in matchers.iter().filter(|m| m.name == METRIC_NAME_LABEL) {
        let matches: Box<dyn Fn(&str) -> bool> = match m.kind {
            MatchKind::Equal => Box::new(|name| name == m.value),
            MatchKind::NotEqual => Box::new(|name| name != m.value),
            MatchKind::Regex | MatchKind::NotRegex => {
                // RE2 syntax, anchored, as Prometheus compiles it.
                let re = regex::Regex::new(&format!("^(?s:{})$", m.value))
                    .map_err(|e| compile_error(m, e))?;
                let want = m.kind == MatchKind::Regex;
                Box::new(move |name| re.is_match(name) == want)
            }
        };
        metrics.retain(|name| matches(name));
    }
    metrics.sort_unstable();
    Ok(metrics)
}

/// The SELECT of both forms: single-measure records under `single` conditions, and the
/// multi-measure records' columns in `metrics`, under the time and `labels` conditions,
/// a row per metric that has a value. One statement, so that rows still come ordered by
/// series across both forms (a series may have samples in both).
///
/// The multi-measure records are read in one scan (Timestream bills a query by the
/// bytes it scans): joined with the list of metric names, each row of the join takes
/// the value of its metric's column.
fn select_both(
    database: &str,
    table: &str,
    columns: &TableColumns,
    single: &[String],
    (time, labels): (&str, &[String]),
    metrics: &[&str],
) -> String {
    let from = format!("{}.{}", identifier(database), identifier(table));
    let mut series_columns: Vec<String> =
        columns.dimensions.iter().map(|d| identifier(d)).collect();
    if columns.non_finite {
        series_columns.push(identifier(super::nonfinite::DIMENSION));
    }
    let series_columns = series_columns
        .iter()
        .map(|c| format!(", {c}"))
        .collect::<String>();
    let histograms = &columns.values.histograms;
    // The first SELECT names the columns: the ORDER BY below is on them.
    let float = if columns.values.float {
        VALUE_COLUMN
    } else {
        "CAST(NULL AS DOUBLE)"
    };
    let histogram_columns: String = histograms
        .iter()
        .map(|m| format!(", {}", identifier(m)))
        .collect();
    let form = identifier(FORM_COLUMN);
    let single = format!(
        "SELECT {MEASURE_NAME}{series_columns}, to_milliseconds(time) AS time, {float}{histogram_columns}, 1 AS {form} FROM {from} WHERE {}",
        single.join(" AND ")
    );
    let name = identifier(METRIC_COLUMN);
    let names = metrics
        .iter()
        .map(|m| format!("SELECT {} AS {name}", literal(m)))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let value = format!(
        "CASE {name} {} END",
        metrics
            .iter()
            .map(|m| format!("WHEN {} THEN {}", literal(m), identifier(m)))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut conditions = vec![
        time.to_string(),
        format!("{} = {}", multi_prefix(), literal(super::multi::MEASURE)),
        format!("{value} IS NOT NULL"),
    ];
    conditions.extend(labels.iter().cloned());
    let nulls = ", NULL".repeat(histograms.len());
    let multi = format!(
        "SELECT {name} AS {MEASURE_NAME}{series_columns}, to_milliseconds(time) AS time, {value}{nulls}, 0 FROM {from} CROSS JOIN metric_names WHERE {}",
        conditions.join(" AND ")
    );
    // WITH queries, which Timestream's documented grammar has (a subquery in FROM it
    // does not list).
    format!(
        "WITH metric_names AS ({names}), both_forms AS ({single} UNION ALL {multi}) SELECT * FROM both_forms ORDER BY {}, time, {form}",
        label_order(&columns.dimensions)
    )
}

/// The start of `measure_name` that tells multi-measure records of float samples
/// ([`super::multi`]). `substr`, not LIKE: `_` is a LIKE wildcard.
fn multi_prefix() -> String {
    format!("substr({MEASURE_NAME}, 1, {})", super::multi::MEASURE.len())
}

/// ORDER BY terms that sort series as Prometheus sorts label sets (label by label in
/// name order, a label set that is a prefix of another first), so that series come out
/// in the order Prometheus' own storage returns them.
///
/// At each label name, in byte order: a series that has the label sorts by its value; one
/// that lacks it sorts before the others if it has no later label (it is a prefix), after
/// them otherwise (its next label has a greater name).
fn label_order(dimensions: &[String]) -> String {
    let mut names: Vec<&str> = dimensions.iter().map(String::as_str).collect();
    names.push(METRIC_NAME_LABEL);
    names.sort_unstable();
    let column = |name: &str| {
        if name == METRIC_NAME_LABEL {
            MEASURE_NAME.to_string()
        } else {
            identifier(name)
        }
    };
    let mut terms = Vec::with_capacity(names.len() * 2);
    for (i, name) in names.iter().enumerate() {
        let c = column(name);
        if *name == METRIC_NAME_LABEL {
            terms.push(c);
            continue;
        }
        let later: Vec<String> = names[i + 1..].iter().map(|n| column(n)).collect();
        let rank = match later.as_slice() {
            [] => format!("CASE WHEN {c} IS NOT NULL THEN 1 ELSE 0 END"),
            [one] => {
                format!("CASE WHEN {c} IS NOT NULL THEN 1 WHEN {one} IS NOT NULL THEN 2 ELSE 0 END")
            }
            many => format!(
                "CASE WHEN {c} IS NOT NULL THEN 1 WHEN coalesce({}) IS NOT NULL THEN 2 ELSE 0 END",
                many.join(", ")
            ),
        };
        terms.push(rank);
        terms.push(c);
    }
    terms.join(", ")
}

enum Column<'a> {
    /// `measure_name`: never NULL.
    MeasureName,
    Dimension(&'a str),
    /// No such column: the label is absent from every series.
    Absent,
}

enum Condition {
    Always,
    Never,
    Sql(String),
}

fn condition(m: &Matcher, column: Column<'_>) -> Result<Condition, TranslateError> {
    let matches_empty = match m.kind {
        MatchKind::Equal => m.value.is_empty(),
        MatchKind::NotEqual => !m.value.is_empty(),
        MatchKind::Regex => regex_matches_empty(m)?,
        MatchKind::NotRegex => !regex_matches_empty(m)?,
    };
    let (column, nullable) = match column {
        Column::Absent => {
            return Ok(if matches_empty {
                Condition::Always
            } else {
                Condition::Never
            })
        }
        Column::MeasureName => (MEASURE_NAME.to_string(), false),
        Column::Dimension(name) => (identifier(name), true),
    };
    let test = match m.kind {
        MatchKind::Equal | MatchKind::NotEqual if m.value.is_empty() => {
            // Only the NULL/'' part below decides.
            None
        }
        MatchKind::Equal => Some(format!("{column} = {}", literal(&m.value))),
        MatchKind::NotEqual => Some(format!("{column} <> {}", literal(&m.value))),
        MatchKind::Regex => Some(format!("regexp_like({column}, {})", literal(&anchored(m)?))),
        MatchKind::NotRegex => Some(format!(
            "NOT regexp_like({column}, {})",
            literal(&anchored(m)?)
        )),
    };
    // Series whose value is "" (NULL, or an empty string) match exactly when the
    // matcher matches "". A test on '' already gives the matcher's answer; a test on NULL
    // is never true, so NULL needs saying only where the answer is yes.
    let empty = if nullable {
        format!("({column} IS NULL OR {column} = '')")
    } else {
        format!("{column} = ''")
    };
    let not_empty = if nullable {
        format!("({column} IS NOT NULL AND {column} <> '')")
    } else {
        format!("{column} <> ''")
    };
    Ok(Condition::Sql(match (test, matches_empty) {
        (None, true) => empty,
        (None, false) => not_empty,
        (Some(test), true) if nullable => format!("({column} IS NULL OR {test})"),
        (Some(test), _) => test,
    }))
}

fn compile_error(m: &Matcher, reason: impl ToString) -> TranslateError {
    TranslateError::Regex {
        label: m.name.clone(),
        pattern: m.value.clone(),
        reason: reason.to_string(),
    }
}

/// Whether the (anchored) regex matches "", checked with RE2 syntax as Prometheus
/// compiles it.
fn regex_matches_empty(m: &Matcher) -> Result<bool, TranslateError> {
    let re = regex::Regex::new(&format!("^(?s:{})$", m.value)).map_err(|e| compile_error(m, e))?;
    Ok(re.is_match(""))
}

/// The matcher's regex, anchored, in syntax Java and Rust both read as RE2 does.
fn anchored(m: &Matcher) -> Result<String, TranslateError> {
    let anchored = format!(
        "^(?s:{})\\z",
        portable_regex(&m.value).map_err(|e| compile_error(m, e))?
    );
    // What the rewrite cannot carry over fails here rather than in Timestream: `[:--*]`
    // is set difference to Rust's parser (which accepted it above), a reversed range
    // to RE2 (which refuses it, as Prometheus does) and to the rewrite.
    regex::Regex::new(&anchored).map_err(|e| compile_error(m, e))?;
    Ok(anchored)
}

/// A SQL string literal: quotes doubled, nothing else special (Timestream's string
/// literals have no backslash escapes).
pub fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A quoted SQL identifier.
pub fn identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests;
