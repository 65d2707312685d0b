//! The text exposition format.

use super::*;

// ---------------------------------------------------------------------------------------
// Text exposition format

/// Tokens of the text format, to reach deep into the grammar more often than random
/// characters do.
const TEXT_PIECES: &[&str] = &[
    "#",
    " ",
    "\t",
    "\n",
    "{",
    "}",
    "\"",
    "\\",
    "=",
    ",",
    "0",
    "1",
    "-1.5e3",
    "NaN",
    "+Inf",
    "-inf",
    "1e400",
    "9223372036854775808",
    "a",
    "b_c",
    "x:y",
    "le",
    "quantile",
    "_sum",
    "_count",
    "_bucket",
    "HELP",
    "TYPE",
    "counter",
    "gauge",
    "summary",
    "histogram",
    "untyped",
    "gauge_histogram",
    "instance",
    "__name__",
    "__x",
    "é",
    "\\n",
    "\\\"",
    "\\\\",
    "\r",
    "0x1p3",
    "1_000",
];

const LINE_NAMES: &[&str] = &["a", "a_sum", "a_count", "a_bucket", "b", "b_total", "c"];
const KINDS: &[&str] = &[
    "counter",
    "gauge",
    "summary",
    "histogram",
    "untyped",
    "gauge_histogram",
    "GAUGE",
    "bogus",
];
const LINE_LABELS: &[&str] = &["le", "quantile", "instance", "job", "x", "__x", "__name__"];
const LINE_VALUES: &[&str] = &[
    "0",
    "1",
    "2.5",
    "NaN",
    "+Inf",
    "-Inf",
    "1e3",
    "-0",
    "0.50",
    "18446744073709551616",
    "1e19",
    "x",
    "",
];

/// Whole lines over a few names that collide as summaries and histograms do, so the
/// merging of `_sum`, `_count`, `_bucket`, `le` and `quantile` is exercised.
fn exposition_line() -> impl Strategy<Value = String> {
    let name = || prop::sample::select(LINE_NAMES);
    let pair = (
        prop::sample::select(LINE_LABELS),
        prop::sample::select(LINE_VALUES),
    )
        .prop_map(|(n, v)| format!("{n}=\"{v}\""));
    prop_oneof![
        (name(), prop::sample::select(KINDS)).prop_map(|(n, k)| format!("# TYPE {n} {k}\n")),
        (name(), "[a-z \\\\]{0,6}").prop_map(|(n, h)| format!("# HELP {n} {h}\n")),
        (
            name(),
            prop::collection::vec(pair, 0..4),
            prop::sample::select(LINE_VALUES),
            prop::option::of(any::<i64>()),
        )
            .prop_map(|(n, labels, value, timestamp)| {
                let timestamp = timestamp.map(|t| format!(" {t}")).unwrap_or_default();
                format!("{n}{{{}}} {value}{timestamp}\n", labels.join(","))
            }),
        Just("\n".to_string()),
    ]
}

/// One family of a valid exposition: counter, gauge or untyped.
#[derive(Debug, Clone)]
struct TextFamily {
    name: String,
    kind: Option<&'static str>,
    help: Option<String>,
    samples: Vec<TextSample>,
}

/// A sample line's labels, value and timestamp.
type TextSample = (Vec<(String, String)>, Number, Option<i64>);

const PLAIN_KINDS: &[&str] = &["counter", "gauge", "untyped", "COUNTER", "Gauge"];
/// What may separate the parts of a sample line.
const BLANKS: &[&str] = &["", " ", "\t", " \t "];

fn text_family() -> impl Strategy<Value = TextFamily> {
    let labels = prop::collection::vec(("[a-zA-Z_][a-zA-Z0-9_]{0,8}", chars(12)), 0..4);
    (
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}",
        prop::option::of(prop::sample::select(PLAIN_KINDS)),
        prop::option::of(chars(20)),
        prop::collection::vec((labels, number(), prop::option::of(any::<i64>())), 1..4),
    )
        .prop_map(|(name, kind, help, samples)| TextFamily {
            name,
            kind,
            help,
            samples,
        })
}

/// A sample as the parser must give it back.
#[derive(Debug)]
struct Expected {
    name: String,
    labels: Vec<(String, String)>,
    value: Number,
    timestamp: Option<i64>,
}

/// The body for `families` (names made unique, each sample's labels distinct and made a
/// distinct series with an `idx` label), and the samples it holds.
fn exposition(families: &[TextFamily], blank: &str) -> (String, Vec<Expected>) {
    let mut body = String::new();
    let mut expected = Vec::new();
    let mut names = HashSet::new();
    for family in families {
        if !names.insert(family.name.clone()) {
            continue;
        }
        if let Some(help) = &family.help {
            let help = help.replace('\\', "\\\\").replace('\n', "\\n");
            let _ = writeln!(body, "# HELP {} {help}", family.name);
        }
        if let Some(kind) = family.kind {
            let _ = writeln!(body, "# TYPE {} {kind}", family.name);
        }
        for (k, (labels, value, timestamp)) in family.samples.iter().enumerate() {
            let mut seen = HashSet::new();
            let mut labels: Vec<(String, String)> = labels
                .iter()
                .filter(|(n, _)| !n.starts_with("__") && n != "idx" && seen.insert(n.clone()))
                .cloned()
                .collect();
            labels.push(("idx".into(), k.to_string()));
            let rendered: Vec<String> = labels
                .iter()
                .map(|(n, v)| {
                    let v = v
                        .replace('\\', "\\\\")
                        .replace('"', "\\\"")
                        .replace('\n', "\\n");
                    format!("{n}{blank}={blank}\"{v}\"")
                })
                .collect();
            let _ = write!(
                body,
                "{}{blank}{{{blank}{}{blank}}}{blank}{}",
                family.name,
                rendered.join(&format!(",{blank}")),
                value.text()
            );
            if let Some(t) = timestamp {
                let _ = write!(body, " {t}");
            }
            body.push('\n');
            expected.push(Expected {
                name: family.name.clone(),
                labels,
                value: value.clone(),
                timestamp: *timestamp,
            });
        }
    }
    (body, expected)
}

proptest! {
    #![proptest_config(config(2000))]

    /// Without it: a push body (any text a client sends to /metrics/job/…) could panic
    /// the parser instead of being a 400.
    #[test]
    fn text_parser_never_panics_on_any_text(body in chars(200)) {
        let _ = text::parse(&body);
    }

    /// As above, with the format's own characters, so that malformed labels, escapes,
    /// comments and values are reached rather than failing on the first byte.
    #[test]
    fn text_parser_never_panics_on_near_valid_text(
        pieces in prop::collection::vec(prop::sample::select(TEXT_PIECES), 0..64),
        lines in prop::collection::vec(exposition_line(), 0..12),
    ) {
        let _ = text::parse(&pieces.concat());
        let _ = text::parse(&lines.concat());
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a valid push could be stored with a value rounded, a label escape
    /// read wrongly (`\"`, `\\`, `\n`) or a timestamp lost: silently wrong data.
    #[test]
    fn valid_expositions_read_back_exactly(
        families in prop::collection::vec(text_family(), 0..5),
        blank in prop::sample::select(BLANKS),
    ) {
        let (body, expected) = exposition(&families, blank);
        let parsed = text::parse(&body)
            .map_err(|e| TestCaseError::fail(format!("refused: {e}\n{body}")))?;
        prop_assert_eq!(parsed.samples.len(), expected.len(), "{}", body);
        for (sample, want) in parsed.samples.iter().zip(&expected) {
            prop_assert_eq!(&*sample.name, want.name.as_str());
            let labels: Vec<(&str, &str)> = parsed
                .labels_of(sample)
                .iter()
                .map(|l| (&*l.name, &*l.value))
                .collect();
            let want_labels: Vec<(&str, &str)> =
                want.labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            prop_assert_eq!(labels, want_labels);
            prop_assert!(
                want.value.matches(sample.value),
                "{} read as {:?}", want.value.text(), sample.value
            );
            prop_assert_eq!(sample.timestamp_ms, want.timestamp);
        }
    }
}
