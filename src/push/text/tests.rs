//! Unit tests of [`super`].

use super::*;
use crate::push::render;

fn accepted(body: &str) -> Vec<String> {
    match parse(body) {
        Ok(exposition) => render(&exposition),
        Err(error) => panic!("{body:?} was refused: {error}"),
    }
}

#[track_caller]
fn refused(body: &str, line: usize, message: &str) {
    match parse(body) {
        Err(PushError::Text {
            line: at,
            message: why,
        }) => {
            assert!(
                at == line && why.starts_with(message),
                "{body:?}: expected line {line} {message:?}, got line {at} {why:?}"
            );
        }
        other => panic!("{body:?}: expected a refusal at line {line}, got {other:?}"),
    }
}

#[test]
fn minimal_bodies() {
    assert_eq!(accepted(""), Vec::<String>::new());
    assert_eq!(accepted("\n\n  \t\n"), Vec::<String>::new());
    assert_eq!(accepted("a 1\n  \t"), ["a{} 1"]); // a blank last line needs no newline
    assert_eq!(
        accepted(
            "\nminimal_metric 1.234\nanother_metric -3e3 103948\n# Even that:\nno_labels{} 3\n\
             # HELP line for non-existing metric will be ignored.\n"
        ),
        [
            "minimal_metric{} 1.234",
            "another_metric{} -3000 103948",
            "no_labels{} 3"
        ]
    );
}

#[test]
fn counters_gauges_whitespace_and_escapes() {
    let body = r#"
# A normal comment.
#
# TYPE name counter
name{labelname="val1",basename="basevalue"} NaN
name {labelname="val2",basename="base\"v\\al\nue"} 0.23 1234567890
# HELP name two-line\n doc  str\\ing

 # HELP  name2  	doc str"ing 2
  #    TYPE    name2 gauge
name2{labelname="val2"	,basename   =   "basevalue2"		} +Inf 54321
name2{ labelname = "val1" , }-Inf
a:b_c{_x="é"} 1e-400
"#;
    assert_eq!(
        accepted(body),
        [
            r#"name{labelname="val1",basename="basevalue"} NaN"#,
            r#"name{labelname="val2",basename="base\"v\\al\nue"} 0.23 1234567890"#,
            r#"name2{labelname="val2",basename="basevalue2"} +Inf 54321"#,
            r#"name2{labelname="val1"} -Inf"#,
            r#"a:b_c{_x="é"} 0"#,
        ]
    );
    // Text is borrowed from the body unless it had to be unescaped.
    let parsed = parse(body).unwrap();
    let borrowed = |c: &Cow<'_, str>| matches!(c, Cow::Borrowed(_));
    assert!(parsed.samples.iter().all(|s| borrowed(&s.name)));
    assert!(parsed.labels.iter().all(|l| borrowed(&l.name)));
    let owned: Vec<&str> = parsed
        .labels
        .iter()
        .filter(|l| !borrowed(&l.value))
        .map(|l| &*l.value)
        .collect();
    assert_eq!(owned, ["base\"v\\al\nue"]);
}

#[test]
fn values_as_go_reads_them() {
    for (written, value) in [
        ("1", "1"),
        ("-0", "-0"),
        ("+1.5", "1.5"),
        (".5", "0.5"),
        ("5.", "5"),
        ("1E3", "1000"),
        ("1e+3", "1000"),
        ("08", "8"),
        ("1e-400", "0"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("Inf", "+Inf"),
        ("+inf", "+Inf"),
        ("-Infinity", "-Inf"),
        ("INFINITY", "+Inf"),
        ("nan", "NaN"),
        ("NaN", "NaN"),
    ] {
        assert_eq!(
            accepted(&format!("a {written}\n")),
            [format!("a{{}} {value}")],
            "{written}"
        );
    }
    for written in [
        "1_000",
        "0x10",
        "0x1p-3",
        "0X1P3",
        "0b1",
        "0o1",
        "+NaN",
        "-nan",
        "infinit",
        "infinityy",
        "in",
        "1e",
        "1e+",
        ".",
        "e5",
        "1.2.3",
        "1e400",
        "-1e400",
        "٣",
        "",
        "1,5",
        "1d",
        "0x",
    ] {
        refused(
            &format!("a {written}\n"),
            1,
            &format!("expected float as value, got {written:?}"),
        );
    }
}

#[test]
fn timestamps() {
    assert_eq!(accepted("a 1 -2\nb 1\t+3\n"), ["a{} 1 -2", "b{} 1 3"]);
    refused("a 1 2.5\n", 1, "expected integer as timestamp, got \"2.5\"");
    refused(
        "a 1 99999999999999999999\n",
        1,
        "expected integer as timestamp",
    );
    refused("a 1 2 3\n", 1, "spurious string after timestamp: \" 3\"");
    // expfmt 0.37 refuses a trailing blank after a value or a timestamp.
    refused("a 1 \n", 1, "expected integer as timestamp, got \"\"");
    refused("a 1 2 \n", 1, "spurious string after timestamp: \" \"");
    refused("a 1\r\n", 1, "expected float as value, got \"1\\r\"");
}

#[test]
fn the_evil_summary() {
    let body = r#"
# TYPE my_summary summary
my_summary{n1="val1",quantile="0.5"} 110
decoy -1 -2
my_summary{n1="val1",quantile="0.9"} 140 1
my_summary_count{n1="val1"} 42
# Latest timestamp wins in case of a summary.
my_summary_sum{n1="val1"} 4711 2
fake_sum{n1="val1"} 2001
# TYPE another_summary summary
another_summary_count{n2="val2",n1="val1"} 20
my_summary_count{n2="val2",n1="val1"} 5 5
another_summary{n1="val1",n2="val2",quantile=".3"} -1.2
my_summary_sum{n1="val2"} 08 15
my_summary{n1="val3", quantile="0.2"} 4711
  my_summary{n1="val1",n2="val2",quantile="-12.34",} NaN
# some
# funny comments
# HELP 
# HELP
# HELP my_summary
# HELP my_summary 
"#;
    assert_eq!(
        accepted(body),
        [
            r#"decoy{} -1 -2"#,
            r#"fake_sum{n1="val1"} 2001"#,
            r#"my_summary{n1="val1",quantile="0.5"} 110 2"#,
            r#"my_summary{n1="val1",quantile="0.9"} 140 2"#,
            r#"my_summary_sum{n1="val1"} 4711 2"#,
            r#"my_summary_count{n1="val1"} 42 2"#,
            r#"another_summary{n2="val2",n1="val1",quantile="0.3"} -1.2"#,
            r#"another_summary_sum{n2="val2",n1="val1"} 0"#,
            r#"another_summary_count{n2="val2",n1="val1"} 20"#,
            r#"my_summary{n2="val2",n1="val1",quantile="-12.34"} NaN 5"#,
            r#"my_summary_sum{n2="val2",n1="val1"} 0 5"#,
            r#"my_summary_count{n2="val2",n1="val1"} 5 5"#,
            r#"my_summary_sum{n1="val2"} 8 15"#,
            r#"my_summary_count{n1="val2"} 0 15"#,
            r#"my_summary{n1="val3",quantile="0.2"} 4711"#,
            r#"my_summary_sum{n1="val3"} 0"#,
            r#"my_summary_count{n1="val3"} 0"#,
        ]
    );
}

#[test]
fn histograms() {
    let body = "# HELP request_duration_microseconds The response latency.
# TYPE request_duration_microseconds histogram
request_duration_microseconds_bucket{le=\"100\"} 123
request_duration_microseconds_bucket{le=\"120\"} 412
request_duration_microseconds_bucket{le=\"172.8\"} 1524
request_duration_microseconds_bucket{le=\"+Inf\"} 2693
request_duration_microseconds_sum 1.7560473e+06
request_duration_microseconds_count 2693
";
    assert_eq!(
        accepted(body),
        [
            r#"request_duration_microseconds_bucket{le="100"} 123"#,
            r#"request_duration_microseconds_bucket{le="120"} 412"#,
            r#"request_duration_microseconds_bucket{le="172.8"} 1524"#,
            r#"request_duration_microseconds_bucket{le="+Inf"} 2693"#,
            r#"request_duration_microseconds_sum{} 1.7560473e+06"#,
            r#"request_duration_microseconds_count{} 2693"#,
        ]
    );
    // Bounds written back as Go writes them; +Inf added from _count; counts truncated.
    let body = "# TYPE h histogram
h_bucket{path=\"/\",le=\"0.50\"} 1
h_bucket{le=\"1.0\",path=\"/\"} 2.9
h_bucket{path=\"/\",le=\"1e1\"} 3
h_sum{path=\"/\"} 4.5
h_count{path=\"/\"} 3.9
h_bucket{path=\"/x\",le=\"+inf\"} 1
h_bucket{path=\"/x\",le=\"NaN\"} 7
h{path=\"/x\",le=\"0.25\"} 1
";
    assert_eq!(
        accepted(body),
        [
            r#"h_bucket{path="/",le="0.5"} 1"#,
            r#"h_bucket{path="/",le="1"} 2"#,
            r#"h_bucket{path="/",le="10"} 3"#,
            r#"h_bucket{path="/",le="+Inf"} 3"#,
            r#"h_sum{path="/"} 4.5"#,
            r#"h_count{path="/"} 3"#,
            r#"h_bucket{path="/x",le="+Inf"} 1"#,
            r#"h_bucket{path="/x",le="0.25"} 1"#,
            r#"h_sum{path="/x"} 0"#,
            r#"h_count{path="/x"} 0"#,
        ]
    );
    // A bound already written as Go writes it is borrowed from the body.
    let parsed =
        parse("# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"1.0\"} 1\n").unwrap();
    let le: Vec<_> = parsed
        .labels
        .iter()
        .map(|l| (&*l.value, matches!(l.value, Cow::Borrowed(_))))
        .collect();
    assert_eq!(le, [("0.5", true), ("1", false), ("+Inf", true)]);
    // A line of the family that is no bucket, sum or count still makes a metric.
    assert_eq!(
        accepted("# TYPE h histogram\nh_bucket{a=\"b\"} 5\n"),
        [
            r#"h_bucket{a="b",le="+Inf"} 0"#,
            r#"h_sum{a="b"} 0"#,
            r#"h_count{a="b"} 0"#
        ]
    );
    // `le` is an ordinary label outside histograms, `quantile` outside summaries.
    assert_eq!(
        accepted("# TYPE h histogram\nh_bucket{quantile=\"x\",le=\"1\"} 1\nx{le=\"y\"} 1\n"),
        [
            r#"x{le="y"} 1"#,
            r#"h_bucket{quantile="x",le="1"} 1"#,
            r#"h_bucket{quantile="x",le="+Inf"} 0"#,
            r#"h_sum{quantile="x"} 0"#,
            r#"h_count{quantile="x"} 0"#,
        ]
    );
}

#[test]
fn summaries() {
    let body = "# TYPE s summary
s{quantile=\"0.50\"} 1 5
s{quantile=\"1e-5\"} 2
s{quantile=\"NaN\"} 3
s_sum{quantile=\"0.9\"} 4
s_count 7.8
s_count{a=\"\"} -1
s_bucket 2
";
    assert_eq!(
        accepted(body),
        [
            "s_bucket{} 2",
            r#"s{quantile="0.5"} 1 5"#,
            r#"s{quantile="1e-05"} 2 5"#,
            "s_sum{} 4 5",
            "s_count{} 7 5",
            r#"s_sum{a=""} 0"#,
            r#"s_count{a=""} 1.8446744073709552e+19"#,
        ]
    );
}

#[test]
fn families_of_suffixed_names() {
    // Only a summary or histogram typed before takes `_sum`/`_count` (`_bucket`).
    assert_eq!(
        accepted("x_sum 1\n# TYPE x gauge\nx 2\nx_count 3\n"),
        ["x_sum{} 1", "x{} 2", "x_count{} 3"]
    );
    // HELP and TYPE lines resolve names the same way.
    refused(
        "# TYPE s summary\n# HELP s_sum a\n# HELP s b\n",
        3,
        "second HELP line for metric name \"s\"",
    );
    refused(
        "# TYPE h histogram\n# TYPE h_bucket gauge\n",
        2,
        "second TYPE line for metric name \"h\"",
    );
    // A TYPE after a family's samples, even through a suffixed name.
    refused(
        "# TYPE h histogram\nh_count 1\n# TYPE h histogram\n",
        3,
        "second TYPE line",
    );
    refused(
        "\nmetric 4.12\n# TYPE metric counter\n",
        3,
        "second TYPE line for metric name \"metric\", or TYPE reported after samples",
    );
}

#[test]
fn comments() {
    assert_eq!(
        accepted("#HELP a x\n#\n# \n#TYPE a gauge\n# TYPE\n# TYPE \n# TYPE b\n# TYPE c \n# TYPE a_b gau\\ge\na_b 1\n#unknown x\n"),
        ["a_b{} 1"]
    );
    assert_eq!(
        accepted("# TYPE a COUNTER\na 1\n# TYPE b hıstogram\nb_count 1\n"),
        [
            "a{} 1",
            r#"b_bucket{le="+Inf"} 1"#,
            "b_sum{} 0",
            "b_count{} 1"
        ]
    );
    refused(
        "#HELP a x\n# HELP a y\n",
        2,
        "second HELP line for metric name \"a\"",
    );
    refused(
        "\n# TYPE metric counter\n# TYPE metric untyped\n",
        3,
        "second TYPE line",
    );
    refused("\n# TYPE metric bla\n", 2, "unknown metric type \"bla\"");
    refused("# TYPE a counter \n", 1, "unknown metric type \"counter \"");
    refused("# TYPE a straße\n", 1, "unknown metric type \"straße\"");
    refused("\n# TYPE met-ric\n", 2, "invalid metric name in comment");
    refused("# HELP 1a x\n", 1, "invalid metric name in comment");
    refused("# HELP a x\\ty\n", 1, "invalid escape sequence '\\t'");
    refused("# HELP a x\\\n", 1, "invalid escape sequence '\\\n'");
    assert_eq!(
        accepted("# HELP a x\\\\y\\n\n# HELP b \\\\\n"),
        Vec::<String>::new()
    );
}

#[test]
fn syntax_errors() {
    refused(
        "\nbla 3.14\nblubber 42",
        3,
        "unexpected end of input stream",
    );
    refused("a 1\n#", 2, "unexpected end of input stream");
    refused("a 1\n# comment", 2, "unexpected end of input stream");
    refused("# HELP a text", 1, "unexpected end of input stream");
    refused("a{b=\"c", 1, "unexpected end of input stream");
    refused("a{b", 1, "unexpected end of input stream");
    refused("a", 1, "unexpected end of input stream");
    refused("a{} ", 1, "unexpected end of input stream");
    refused(
        "metric{label=\"\\t\"} 3.14",
        1,
        "invalid escape sequence '\\t'",
    );
    refused(
        "\nmetric{label=\"new\nline\"} 3.14\n",
        2,
        "label value \"new\" contains unescaped new-line",
    );
    refused(
        "metric{label=\"a\\\"b\nc\"} 3.14\n",
        1,
        "label value \"a\\\"b\" contains unescaped new-line",
    );
    refused(
        "metric{@=\"bla\"} 3.14\n",
        1,
        "invalid label name for metric \"metric\"",
    );
    refused(
        "metric{__name__=\"bla\"} 3.14\n",
        1,
        "label name \"__name__\" is reserved",
    );
    refused(
        "metric{label+=\"bla\"} 3.14\n",
        1,
        "expected '=' after label name, found '+'",
    );
    refused(
        "metric{label:a=\"bla\"} 3.14\n",
        1,
        "expected '=' after label name, found ':'",
    );
    refused(
        "metric{label=bla} 3.14\n",
        1,
        "expected '\"' at start of label value, found 'b'",
    );
    refused(
        "metric{label=\"bla\"+} 3.14\n",
        1,
        "unexpected end of label value \"bla\"",
    );
    refused(
        "metric{label=\"bla\"} blubb\n",
        1,
        "expected float as value, got \"blubb\"",
    );
    refused(
        "metric{label=\"bla\"}\n",
        1,
        "expected float as value, got \"\"",
    );
    refused("metric\n", 1, "expected float as value, got \"\"");
    refused(
        "@invalidmetric{label=\"bla\"} 3.14 2\n",
        1,
        "invalid metric name",
    );
    refused("{label=\"bla\"} 3.14 2\n", 1, "invalid metric name");
    refused("metric-x 1\n", 1, "expected float as value, got \"-x\"");
    refused(
        "metric{label=\"bla\",label=\"bla\"} 3.14\n",
        1,
        "duplicate label names for metric \"metric\"",
    );
    refused(
        "\n# TYPE metric summary\nmetric{quantile=\"bla\"} 3.14\n",
        3,
        "expected float as value for 'quantile' label, got \"bla\"",
    );
    refused(
        "\n# TYPE metric histogram\nmetric_bucket{le=\"bla\"} 3.14\n",
        3,
        "expected float as value for 'le' label",
    );
    refused(
        "# TYPE m histogram\nm_bucket{le=\"0x1p-3\"} 3.14\n",
        2,
        "expected float as value for 'le' label",
    );
    refused(
        "# TYPE m summary\nm_sum{quantile=\"1_0\"} 3.14\n",
        2,
        "expected float as value for 'quantile' label",
    );
}

#[test]
fn gauge_histograms_are_refused() {
    assert_eq!(accepted("# TYPE g gauge_histogram\n"), Vec::<String>::new());
    refused(
        "# TYPE g gauge_histogram\ng{le=\"1\"} 1\n",
        2,
        "metric family \"g\" is a gauge_histogram",
    );
}

#[test]
fn the_same_series_twice() {
    refused(
        "a{x=\"1\",y=\"2\"} 1\nb 1\na{y=\"2\",x=\"1\"} 2\n",
        3,
        "a{y=\"2\",x=\"1\"} is the same series as an earlier sample",
    );
    // The Pushgateway gives every metric without `instance` an empty one.
    refused(
        "a 1\na{instance=\"\"} 2\n",
        2,
        "a{instance=\"\"} is the same series",
    );
    refused(
        "# TYPE s summary\ns_sum 1\ns_count{instance=\"\"} 2\n",
        3,
        "s{instance=\"\"} is the same series",
    );
    // Other empty labels stay distinct from missing ones, as in the Pushgateway.
    assert_eq!(accepted("a 1\na{b=\"\"} 2\na{instance=\"i\"} 3\n").len(), 3);
    // Summary and histogram lines with the same labels are one metric, not twice.
    assert_eq!(
        accepted("# TYPE s summary\ns_sum{a=\"1\",b=\"2\"} 1\ns_count{b=\"2\",a=\"1\"} 2\n").len(),
        2
    );
    // A later syntax error is reported first.
    refused("a 1\na 1\nb\n", 3, "expected float as value");
}

#[test]
fn reserved_label_names_and_collisions() {
    refused(
        "a 1\nb{__x=\"1\"} 1\n",
        2,
        "metric \"b\" has a label with an invalid name: \"__x\"",
    );
    refused(
        "# TYPE x summary\nx_count 1\nx_sum 1\n# TYPE x_sum gauge\nx_sum 1\n",
        4,
        "second TYPE line",
    );
    refused(
        "x_sum 1\n# TYPE x summary\nx 1\nx_count 1\n",
        3,
        "summary \"x\" collides with metric \"x_sum\"",
    );
    refused(
        "# TYPE y histogram\ny_count 1\nq 1\n# TYPE y_bucket gauge\n",
        4,
        "second TYPE line",
    );
    refused(
        "y_bucket 1\n# TYPE y histogram\ny_count 1\n",
        3,
        "histogram \"y\" collides with metric \"y_bucket\"",
    );
    // A summary's `_bucket`, and families without samples, do not collide.
    assert_eq!(
        accepted("z_bucket 1\n# TYPE z summary\nz_count 1\n").len(),
        3
    );
    assert_eq!(
        accepted("# HELP w_sum x\n# TYPE w summary\nw_count 1\n").len(),
        2
    );
}

#[test]
fn go_upper_case() {
    assert_eq!(go_upper("ſummary"), "SUMMARY");
    assert_eq!(go_upper("ﬅ"), "ﬅ");
}

#[test]
fn ten_thousand_series() {
    let mut body =
        String::from("# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\n");
    for i in 0..10_000 {
        body +=
            &format!("http_requests_total{{method=\"GET\",path=\"/p/{i}\",code=\"200\"}} {i}\n");
    }
    let parsed = parse(&body).unwrap();
    assert_eq!(
        (parsed.samples.len(), parsed.labels.len()),
        (10_000, 30_000)
    );
    assert!(parsed
        .labels
        .iter()
        .all(|l| matches!(l.value, Cow::Borrowed(_))));
}
