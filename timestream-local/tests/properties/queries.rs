//! The dialect rewrite, and Queries with extreme interval arithmetic.

use super::*;

// ---------------------------------------------------------------------------------------
// The dialect rewrite

/// SQL-ish pieces: Timestream's functions, interval literals, typed measure columns,
/// quotes and comments (inside which nothing may be rewritten), unicode.
const SQL_PIECES: &[&str] = &[
    "SELECT",
    " ",
    "ago(",
    "bin(",
    "time",
    ",",
    ")",
    "(",
    "::",
    "measure_value",
    "double",
    "1h",
    "15m",
    "0s",
    "100ms",
    "1ns",
    "999999999999d",
    "9223372036854775807",
    "-",
    "+",
    "*",
    "/",
    "'",
    "\"",
    "''",
    "FROM",
    "\"prop\".\"metrics\"",
    "WHERE",
    ">",
    "now()",
    "from_milliseconds(",
    "to_milliseconds(",
    "from_nanoseconds(",
    "from_unixtime(",
    "1.5",
    "e",
    "--",
    "/*",
    "*/",
    "\n",
    "é",
    "日本",
    "INTERVAL",
    "'1' day",
    "regexp_like(",
    "measure_name",
    "AND",
    "ORDER BY",
    "GROUP BY",
    "DESCRIBE",
    "SHOW",
    "TABLES",
    "MEASURES",
    "FROM \"prop\"",
    "LIMIT",
    "count(*)",
    "CASE WHEN",
    "THEN",
    "END",
    "NULL",
    ";",
    "nosuch",
];

fn sql_ish() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(SQL_PIECES), 0..24).prop_map(|p| p.concat()),
        chars(64),
    ]
}

/// A token of a statement and what the rewrite must make of it.
#[derive(Debug, Clone)]
enum SqlToken {
    /// Left as it is: words, numbers, punctuation, literals, identifiers, comments.
    Same(String),
    /// `15m` → `INTERVAL '15 minute'`.
    Interval {
        number: String,
        suffix: &'static str,
        unit: &'static str,
    },
    /// `measure_value::DOUBLE` → `"measure_value::double"`.
    Typed { word: &'static str, ty: String },
}

impl SqlToken {
    fn input(&self) -> String {
        match self {
            SqlToken::Same(text) => text.clone(),
            SqlToken::Interval { number, suffix, .. } => format!("{number}{suffix}"),
            SqlToken::Typed { word, ty } => format!("{word}::{ty}"),
        }
    }

    fn rewritten(&self) -> String {
        match self {
            SqlToken::Same(text) => text.clone(),
            SqlToken::Interval { number, unit, .. } => format!("INTERVAL '{number} {unit}'"),
            SqlToken::Typed { ty, .. } => {
                format!("\"measure_value::{}\"", ty.to_ascii_lowercase())
            }
        }
    }
}

const UNITS: &[(&str, &str)] = &[
    ("ns", "nanosecond"),
    ("us", "microsecond"),
    ("ms", "millisecond"),
    ("s", "second"),
    ("m", "minute"),
    ("h", "hour"),
    ("d", "day"),
];
const PUNCTUATION: &[&str] = &[
    "(", ")", ",", "*", "+", "-", "<", ">=", "=", ".", "::", ";", "/",
];
const MEASURE_VALUE: &[&str] = &["measure_value", "MEASURE_VALUE", "Measure_Value"];

fn sql_token() -> impl Strategy<Value = SqlToken> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,8}".prop_map(SqlToken::Same),
        "[0-9]{1,6}(\\.[0-9]{1,3})?".prop_map(SqlToken::Same),
        "[0-9]{1,3}e[0-9]{1,2}".prop_map(SqlToken::Same),
        prop::sample::select(PUNCTUATION).prop_map(|p| SqlToken::Same(p.to_string())),
        chars(12).prop_map(|c| SqlToken::Same(format!("'{}'", c.replace('\'', "''")))),
        chars(12).prop_map(|c| SqlToken::Same(format!("\"{}\"", c.replace('"', "\"\"")))),
        chars(12).prop_map(|c| SqlToken::Same(format!("--{}\n", c.replace('\n', " ")))),
        chars(12)
            .prop_filter("a comment that does not end early", |c| !c.contains("*/"))
            .prop_map(|c| SqlToken::Same(format!("/*{c}*/"))),
        ("[0-9]{1,12}(\\.[0-9]{1,9})?", prop::sample::select(UNITS)).prop_map(
            |(number, (suffix, unit))| SqlToken::Interval {
                number,
                suffix,
                unit
            }
        ),
        (prop::sample::select(MEASURE_VALUE), "[A-Za-z0-9_]{1,8}")
            .prop_map(|(word, ty)| SqlToken::Typed { word, ty }),
    ]
}

/// Pieces for `position_of`: quotes left open before multi-byte characters, and words.
const POSITION_PIECES: &[&str] = &[
    "\"",
    "'",
    "x",
    "nosuch",
    " ",
    "é",
    "日本",
    "measure_value",
    "::",
    "double",
    "--",
    "/*",
    "\n",
    "\"\"",
    "t",
];
const POSITION_WORDS: &[&str] = &["x", "nosuch", "measure_value::double", "é", "", "t"];

proptest! {
    #![proptest_config(config(2000))]

    /// Without it: a query string (any text a client sends) could panic the rewrite that
    /// runs before DataFusion sees it.
    #[test]
    fn rewrite_never_panics(sql in sql_ish()) {
        let _ = dialect::rewrite(&sql);
    }

    /// Without it: the rewrite could change text inside a literal, an identifier or a
    /// comment (a label value `'15m'` read back as `'INTERVAL …'`), or miss an interval
    /// or a typed measure column outside them.
    #[test]
    fn rewrite_changes_exactly_intervals_and_typed_columns(
        tokens in prop::collection::vec(sql_token(), 0..16),
    ) {
        let input: Vec<String> = tokens.iter().map(SqlToken::input).collect();
        let expected: Vec<String> = tokens.iter().map(SqlToken::rewritten).collect();
        prop_assert_eq!(dialect::rewrite(&input.join(" ")), expected.join(" "));
    }

    /// Without it: an error message about an unknown column or table could panic while
    /// it locates the name in the query text (slicing inside a multi-byte character).
    #[test]
    fn position_of_never_panics(
        sql in prop_oneof![
            prop::collection::vec(prop::sample::select(POSITION_PIECES), 0..16)
                .prop_map(|p| p.concat()),
            chars(32),
        ],
        word in prop_oneof![prop::sample::select(POSITION_WORDS).prop_map(String::from), chars(4)],
    ) {
        let (line, column) = dialect::position_of(&sql, &word);
        prop_assert!(line >= 1 && column >= 1);
    }
}

// ---------------------------------------------------------------------------------------
// Queries with extreme interval arithmetic

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "15",
    "1.5",
    "0.000000001",
    "106751",
    "106752",
    "200000",
    "2147483647",
    "2147483648",
    "999999999999",
    "9223372036854775807",
    "99999999999999999999999999",
];
const INTEGERS: &[&str] = &[
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999",
    "-99999999999999999999",
];
const SUFFIXES: &[&str] = &["ns", "us", "ms", "s", "m", "h", "d"];
const FLOATS: &[&str] = &["1e308", "-1e308", "1e-320", "9.3e9", "-9.3e9"];

fn interval() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            prop::sample::select(NUMBERS).prop_map(String::from),
            "[0-9]{1,20}",
        ],
        prop::sample::select(SUFFIXES),
    )
        .prop_map(|(number, suffix)| format!("{number}{suffix}"))
}

fn integer() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        prop::sample::select(INTEGERS).prop_map(String::from),
    ]
}

fn float() -> impl Strategy<Value = String> {
    prop_oneof![
        finite().prop_map(|v| format!("{v:?}")),
        prop::sample::select(FLOATS).prop_map(String::from),
    ]
}

fn interval_query() -> impl Strategy<Value = String> {
    let table = format!("\"{DB}\".\"{TABLE}\"");
    let (t1, t2) = (table.clone(), table);
    prop_oneof![
        interval().prop_map(|i| format!("SELECT ago({i})")),
        interval().prop_map(|i| format!("SELECT now() - {i}, now() + {i}")),
        interval().prop_map(|i| format!("SELECT bin(now(), {i})")),
        (integer(), interval())
            .prop_map(|(n, i)| format!("SELECT bin(from_nanoseconds({n}), {i})")),
        interval()
            .prop_map(move |i| format!("SELECT bin(time, {i}), measure_value::double FROM {t1}")),
        interval().prop_map(move |i| format!("SELECT count(*) FROM {t2} WHERE time > ago({i})")),
        (integer(), integer()).prop_map(|(a, b)| format!(
            "SELECT from_milliseconds({a}), to_milliseconds(from_nanoseconds({b}))"
        )),
        float().prop_map(|f| format!("SELECT from_unixtime({f})")),
        (interval(), interval())
            .prop_map(|(a, b)| format!("SELECT ago({a}) - ago({b}), ago({a}) + {b}")),
        (integer(), integer()).prop_map(|(a, b)| format!("SELECT {a} * {b}, {a} + {b}, {a} / {b}")),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    /// Without it: a query whose times leave the range of a nanosecond timestamp
    /// (`ago(200000d)`, `bin(…, 0s)`, huge literals) could overflow in the time functions
    /// and panic the request (a dropped connection, which clients retry) instead of
    /// answering a ValidationException.
    #[test]
    fn queries_with_extreme_intervals_answer_or_refuse(sql in interval_query()) {
        let (status, answer) = run(async { query(&seeded().await, &sql).await });
        answered(&sql, status, &answer)?;
    }

    /// As above for any SQL-ish text, DESCRIBE and SHOW included.
    #[test]
    fn sql_ish_queries_answer_or_refuse(sql in sql_ish()) {
        let (status, answer) = run(async { query(&seeded().await, &sql).await });
        answered(&sql, status, &answer)?;
    }
}
