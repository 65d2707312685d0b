//! Unit tests of [`super`].

use super::*;

fn one(body: &str) -> Result<Event<'_>, EventError> {
    let parsed = parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
    assert!(!parsed.batch);
    assert_eq!(parsed.events.len(), 1);
    parsed.events.into_iter().next().unwrap()
}

fn reason(body: &str) -> String {
    match one(body) {
        Err(e) => {
            assert_eq!(e.index, 0);
            e.reason
        }
        Ok(event) => panic!("{body}: accepted as {event:?}"),
    }
}

fn value(json: &str) -> Result<f64, String> {
    let body = format!(r#"{{"metrics": {{"m": {json}}}}}"#);
    one(&body).map(|e| e.metrics[0].1).map_err(|e| e.reason)
}

fn refused(body: &str) -> String {
    match parse(body.as_bytes()) {
        Err(PushError::Events(message)) => message,
        other => panic!("{body}: expected a body error, got {other:?}"),
    }
}

#[test]
fn the_upstream_example() {
    let body = r#"{"dimensions": {"customerId": "customer1"}, "timestamp": 1676398017000,
                   "metrics": {"temperature": "14.3", "ph": "6.7"}}"#;
    let event = one(body).unwrap();
    assert_eq!(
        event.dimensions,
        vec![("customerId".into(), "customer1".into())]
    );
    assert_eq!(event.timestamp_ms, Some(1676398017000));
    assert_eq!(
        event.metrics,
        vec![("temperature".into(), 14.3), ("ph".into(), 6.7)]
    );
    // Borrowed from the body.
    assert!(matches!(event.dimensions[0].0, Cow::Borrowed(_)));
    assert!(matches!(event.dimensions[0].1, Cow::Borrowed(_)));
    assert!(matches!(event.metrics[0].0, Cow::Borrowed(_)));
}

#[test]
fn escaped_strings_are_unescaped() {
    let event = one(r#"{"dimensions": {"a": "x\"y\u00e9"}, "metrics": {"m": "\u0031"}}"#).unwrap();
    assert_eq!(event.dimensions[0].1, "x\"yé");
    assert!(matches!(event.dimensions[0].1, Cow::Owned(_)));
    assert_eq!(event.metrics[0].1, 1.0);
}

#[test]
fn arrays_are_checked_event_by_event() {
    let body = r#"[{"metrics": {"a": 1}}, {"metrics": {"b": "x"}}, 7, {"metrics": {"c": 3}, "timestamp": 5}]"#;
    let parsed = parse(body.as_bytes()).unwrap();
    assert!(parsed.batch);
    assert_eq!(parsed.events.len(), 4);
    assert_eq!(
        parsed.events[0].as_ref().unwrap().metrics,
        vec![("a".into(), 1.0)]
    );
    let error = parsed.events[1].as_ref().unwrap_err();
    assert_eq!(
        (error.index, error.reason.as_str()),
        (1, r#"metrics.b: "x" is not a number"#)
    );
    assert_eq!(
        error.to_string(),
        r#"event 1: metrics.b: "x" is not a number"#
    );
    let error = parsed.events[2].as_ref().unwrap_err();
    assert_eq!(
        (error.index, error.reason.as_str()),
        (2, "an event must be a JSON object, not a number")
    );
    assert_eq!(parsed.events[3].as_ref().unwrap().timestamp_ms, Some(5));

    let empty = parse(b" [ ] ").unwrap();
    assert!(empty.batch && empty.events.is_empty());
}

#[test]
fn bodies_that_are_not_events() {
    assert!(refused("").contains("not JSON: EOF while parsing a value at line 1 column 0"));
    assert!(refused("{\"metrics\": {\"a\": 1}").contains("line 1 column"));
    assert!(refused("[{\"metrics\": {}},\n oops]").contains("line 2 column"));
    assert!(refused("{} {}").contains("not JSON: trailing characters"));
    assert!(refused("metrics a=1").contains("not JSON"));
    assert!(refused("42").contains("a JSON object or an array of objects, not a number"));
    assert!(refused(r#""x""#).ends_with("not a string"));
    assert!(refused("null").ends_with("not null"));
    assert!(
        matches!(parse(b"{\"a\": \"\xff\"}"), Err(PushError::Events(m)) if m.contains("not UTF-8 (invalid byte at offset 7)"))
    );
}

#[test]
fn metrics_are_required() {
    assert_eq!(reason("{}"), "metrics is required");
    assert_eq!(reason(r#"{"metrics": null}"#), "metrics is required");
    assert_eq!(
        reason(r#"{"metrics": {}}"#),
        "metrics is empty: an event needs at least one metric"
    );
    assert_eq!(
        reason(r#"{"metrics": [1]}"#),
        "metrics must be an object, not an array"
    );
    assert_eq!(
        reason(r#"{"metrics": "a"}"#),
        "metrics must be an object, not a string"
    );
    assert_eq!(
        reason(r#"{"metrics": {"a": 1, "a": 2}}"#),
        r#"metrics: "a" is given twice"#
    );
    assert_eq!(
        reason(r#"{"metrics": {"a b": 1}}"#),
        r#"metrics: "a b" is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"#
    );
    assert!(reason(r#"{"metrics": {"": 1}}"#).contains(r#""" is not a valid metric name"#));
    let event = one(r#"{"metrics": {"a:b_c": 1, "_x": 2}}"#).unwrap();
    assert_eq!(event.metrics.len(), 2);
}

#[test]
fn duplicates_among_many_names() {
    let mut names: Vec<String> = (0..40).map(|i| format!(r#""m{i}": {i}"#)).collect();
    assert_eq!(
        one(&format!("{{\"metrics\": {{{}}}}}", names.join(",")))
            .unwrap()
            .metrics
            .len(),
        40
    );
    names.push(r#""m7": 1"#.into());
    assert_eq!(
        reason(&format!("{{\"metrics\": {{{}}}}}", names.join(","))),
        r#"metrics: "m7" is given twice"#
    );
}

#[test]
fn string_values_keep_their_decimal_text() {
    for (text, expected) in [
        ("12.0", 12.0f64),
        ("1e-9", 1e-9),
        ("0.1", 0.1),
        ("-0", -0.0),
        ("+3", 3.0),
        ("1.", 1.0),
        (".5", 0.5),
        ("1E+05", 1e5),
        ("2.5e-3", 2.5e-3),
        ("1e-400", 0.0),
        ("9007199254740993", 9007199254740992.0),
        ("+Inf", f64::INFINITY),
        ("-inf", f64::NEG_INFINITY),
        ("Inf", f64::INFINITY),
        ("-Infinity", f64::NEG_INFINITY),
    ] {
        let got = value(&format!("\"{text}\"")).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(got.to_bits(), expected.to_bits(), "{text}");
    }
    assert!(value(r#""NaN""#).unwrap().is_nan());
    assert!(value(r#""nan""#).unwrap().is_nan());
}

#[test]
fn json_numbers() {
    for (json, expected) in [
        ("12.0", 12.0f64),
        ("12", 12.0),
        ("-0", -0.0),
        ("1e-9", 1e-9),
        ("0.30000000000000004", 0.30000000000000004),
        // Beyond 2^53: the nearest f64 (ties to even).
        ("9007199254740993", 9007199254740992.0),
        ("18446744073709551617", 18446744073709551616.0),
        ("1e308", 1e308),
    ] {
        assert_eq!(value(json).unwrap().to_bits(), expected.to_bits(), "{json}");
    }
    assert_eq!(
        value("1e400").unwrap_err(),
        "metrics.m: 1e400 is out of range"
    );
    assert_eq!(
        value(r#""-1e400""#).unwrap_err(),
        r#"metrics.m: "-1e400" is out of range"#
    );
}

#[test]
fn values_that_are_not_numbers() {
    for json in [
        r#""""#,
        r#"" 1""#,
        r#""1 ""#,
        r#""0x10""#,
        r#""1_000""#,
        r#""abc""#,
        r#""+NaN""#,
        r#""1e""#,
        r#""e5""#,
        r#""." "#,
        r#""1.2.3""#,
        r#""--1""#,
        r#""infinit""#,
        r#""0x1p-2""#,
        r#""1,5""#,
        r#""١""#,
        "true",
        "false",
        "null",
    ] {
        let reason = value(json).unwrap_err();
        assert!(
            reason.starts_with("metrics.m: ") && reason.ends_with(" is not a number"),
            "{json}: {reason}"
        );
    }
    assert_eq!(
        value(r#""abc""#).unwrap_err(),
        r#"metrics.m: "abc" is not a number"#
    );
    assert_eq!(
        value(r#"{"v": 1}"#).unwrap_err(),
        "metrics.m: an object is not a number"
    );
    assert_eq!(
        value("[1]").unwrap_err(),
        "metrics.m: an array is not a number"
    );
    let long = format!("\"{}\"", "x".repeat(100));
    assert_eq!(
        value(&long).unwrap_err(),
        format!("metrics.m: \"{}… is not a number", "x".repeat(39))
    );
}

#[test]
fn timestamps() {
    let ts = |json: &str| {
        let body = format!(r#"{{"timestamp": {json}, "metrics": {{"m": 1}}}}"#);
        one(&body).map(|e| e.timestamp_ms).map_err(|e| e.reason)
    };
    assert_eq!(ts("1676398017000"), Ok(Some(1676398017000)));
    assert_eq!(ts("0"), Ok(Some(0)));
    assert_eq!(ts("null"), Ok(None));
    assert_eq!(one(r#"{"metrics": {"m": 1}}"#).unwrap().timestamp_ms, None);
    assert_eq!(ts("9223372036854775807"), Ok(Some(i64::MAX)));
    for json in [
        "1676398017000.5",
        "1676398017000.0",
        "1.676398017e12",
        "-1",
        r#""1676398017000""#,
        "true",
        "{}",
    ] {
        let reason = ts(json).unwrap_err();
        assert!(reason.starts_with(TIMESTAMP_REASON), "{json}: {reason}");
    }
    assert_eq!(ts("-1").unwrap_err(), format!("{TIMESTAMP_REASON}, not -1"));
    assert_eq!(
        ts("9223372036854775808").unwrap_err(),
        format!("{TIMESTAMP_REASON}; 9223372036854775808 is out of range")
    );
}

#[test]
fn dimensions() {
    let dims = |json: &str| {
        let body = format!(r#"{{"dimensions": {json}, "metrics": {{"m": 1}}}}"#);
        let event = one(&body).map_err(|e| e.reason)?;
        let owned = event
            .dimensions
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()));
        Ok::<Vec<(String, String)>, String>(owned.collect())
    };
    assert!(dims("null").unwrap().is_empty());
    assert!(dims("{}").unwrap().is_empty());
    assert!(one(r#"{"metrics": {"m": 1}}"#)
        .unwrap()
        .dimensions
        .is_empty());
    assert_eq!(
        dims(r#"{"b": "2", "a": "", "_c": "x"}"#).unwrap(),
        [("b", "2"), ("a", ""), ("_c", "x")].map(|(n, v)| (n.to_string(), v.to_string()))
    );
    assert_eq!(
        dims(r#"{"a": 1}"#).unwrap_err(),
        "dimensions.a: 1 is not a string"
    );
    assert_eq!(
        dims(r#"{"a": null}"#).unwrap_err(),
        "dimensions.a: null is not a string"
    );
    assert_eq!(
        dims(r#"{"a": ["x"]}"#).unwrap_err(),
        "dimensions.a: an array is not a string"
    );
    assert_eq!(
        dims(r#"["a"]"#).unwrap_err(),
        "dimensions must be an object of strings, not an array"
    );
    assert_eq!(
        dims(r#"{"a": "1", "a": "2"}"#).unwrap_err(),
        r#"dimensions: "a" is given twice"#
    );
    assert_eq!(
        dims(r#"{"a:b": "1"}"#).unwrap_err(),
        r#"dimensions: "a:b" is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*)"#
    );
    assert_eq!(
        dims(r#"{"__name__": "x"}"#).unwrap_err(),
        r#"dimensions: "__name__" is reserved (names starting with __)"#
    );
}

#[test]
fn top_level_fields() {
    let event =
        one(r#"{"source": "iot", "metrics": {"m": 1}, "extra": {"deep": [1, 2]}}"#).unwrap();
    assert_eq!(event.metrics, vec![("m".into(), 1.0)]);
    assert_eq!(
        reason(r#"{"metrics": {"m": 1}, "metrics": {"n": 2}}"#),
        "metrics is given twice"
    );
    assert_eq!(
        reason(r#"{"timestamp": 1, "timestamp": 2, "metrics": {"m": 1}}"#),
        "timestamp is given twice"
    );
    // Unknown fields may repeat: they are ignored.
    assert!(one(r#"{"x": 1, "x": 2, "metrics": {"m": 1}}"#).is_ok());
}

#[test]
fn float_text_grammar() {
    for ok in [
        "0",
        "1",
        "-1.5",
        "+.5",
        "5.",
        "1e5",
        "1E-5",
        "1e+05",
        "NaN",
        "nAn",
        "inf",
        "+INF",
        "-Infinity",
    ] {
        assert!(float_text(ok), "{ok}");
    }
    for bad in [
        "", "+", "-", ".", "e", "1e", "1e+", "+-1", "1.2.3", " 1", "1 ", "0x1", "1_0", "-nan",
        "infinite", "1e5.5", "١",
    ] {
        assert!(!float_text(bad), "{bad}");
    }
}
