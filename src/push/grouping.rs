//! The grouping key of a Pushgateway path: `/metrics/job/<job>{/<label>/<value>}`.
//!
//! [`parse`] takes the raw, still percent-encoded path after `/metrics/` and returns the
//! labels every sample of the push gets, with the Pushgateway's (1.5.1) rules:
//!
//! - The first segment is `job` or `job@base64`, the second the job, never empty.
//! - The rest are `<label>/<value>` pairs; `<label>@base64` marks a URL-safe base64
//!   value (RFC 4648 §5). Trailing `=` are ignored, so padding is optional and a lone `=`
//!   is the empty value.
//! - Label names match `[a-zA-Z_][a-zA-Z0-9_]*` and must not start with `__`.
//! - A label given twice keeps its last value; a `job` label among the pairs is
//!   overridden by the path's job, as the Pushgateway overwrites it.
//! - `job/<job>/` (a trailing slash right after the job) has no other labels;
//!   `job/<job>/<label>/` gives `<label>` the empty value; any other trailing slash
//!   leaves a label without a value, an error.
//!
//! It does not route (the caller strips `/metrics/` and picks the method), and it does
//! not apply the key to a body ([`super::batch`] does).
//!
//! Departures from the Pushgateway, whose router percent-decodes the whole path before
//! splitting it (Go's `URL.Path`) and whose `ServeMux` redirects unclean paths:
//!
//! - Segments are split on `/` *before* they are percent-decoded, so `%2F` is a `/`
//!   inside a value here, where the Pushgateway would split on it.
//! - An empty segment (`//`) or a `.`/`..` value is refused with a 400 naming the fix
//!   (`@base64`); the Pushgateway answers these with a 301 to the cleaned path, which a
//!   pushing client does not follow with its body.
//! - Malformed escapes (`%zz`) are refused here as Go's URL parser refuses them, and a
//!   value that is not UTF-8 after decoding is refused where Go would keep the bytes.

use std::borrow::Cow;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use percent_encoding::percent_decode_str;

use super::{valid_label_name, PushError};

/// The suffix of a label name (or of `job`) whose value is base64-encoded.
pub const BASE64_SUFFIX: &str = "@base64";

/// URL-safe base64 as the Pushgateway decodes it: Go's `RawURLEncoding` after trimming
/// every trailing `=`. Go's decoder is not strict, so non-zero trailing bits are
/// accepted too ("YR" is "a", like "YQ").
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The labels a Pushgateway path gives every sample of a push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupingKey {
    /// `("job", <job>)` first, then the other labels in the order the path first names
    /// them, each name once. Values are decoded and may be empty (`<label>@base64/=`):
    /// an empty value is an absent label in Prometheus, but it still overrides the same
    /// label of the body.
    pub labels: Vec<(String, String)>,
}

impl GroupingKey {
    /// The value of label `name` in the key, if the path gave it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(label, _)| label == name)
            .map(|(_, value)| value.as_str())
    }

    /// The job: always present in a parsed key.
    pub fn job(&self) -> &str {
        self.get("job").unwrap_or_default()
    }
}

/// The grouping key of `path`, the raw (percent-encoded) URL path after `/metrics/`.
pub fn parse(path: &str) -> Result<GroupingKey, PushError> {
    let mut segments = path.split('/');
    // `split` yields at least one item, the whole path when it has no `/`.
    let first = decode_segment(segments.next().unwrap_or_default())?;
    let job_base64 = match &*first {
        "job" => false,
        "job@base64" => true,
        _ => {
            return Err(error(format!(
                "the path must start with job/<job> or job@base64/<job>, not {first:?}"
            )))
        }
    };
    let job = decode_value("job", segments.next().unwrap_or_default(), job_base64)?;
    if job.is_empty() {
        return Err(error("job name is required"));
    }
    let mut labels = vec![("job".to_owned(), job)];

    let rest: Vec<&str> = segments.collect();
    // The Pushgateway's catch-all route gives `job/<job>/` the labels "/", which it
    // reads as none.
    if rest.as_slice() == [""] {
        return Ok(GroupingKey { labels });
    }
    if rest.len() % 2 != 0 {
        return Err(error(format!(
            "odd number of components in the grouping key {:?}: every label needs a value",
            rest.join("/")
        )));
    }
    let pairs = rest.len() / 2;
    for (i, pair) in rest.chunks_exact(2).enumerate() {
        let (raw_name, raw_value) = (pair[0], pair[1]);
        // An empty last value is the Pushgateway's `<label>/` quirk: the split leaves
        // an empty component. Anywhere else an empty segment is `//`, which its
        // router would clean away.
        if raw_name.is_empty() || (raw_value.is_empty() && i + 1 < pairs) {
            return Err(error(
                "empty path segment (//): use <label>@base64/= for an empty label value",
            ));
        }
        let decoded = decode_segment(raw_name)?;
        let (name, base64) = match decoded.strip_suffix(BASE64_SUFFIX) {
            Some(name) => (name, true),
            None => (&*decoded, false),
        };
        if !valid_label_name(name) {
            return Err(error(format!(
                "invalid label name {name:?} in the grouping key: it must match [a-zA-Z_][a-zA-Z0-9_]*"
            )));
        }
        if name.starts_with("__") {
            return Err(error(format!(
                "invalid label name {name:?} in the grouping key: names starting with __ are reserved"
            )));
        }
        let value = decode_value(name, raw_value, base64)?;
        // The Pushgateway sets `job` from the path after splitting the labels, so a
        // `job` pair is checked but has no effect.
        if name == "job" {
            continue;
        }
        // It keeps the labels in a map: a repeated label keeps its last value.
        match labels.iter_mut().find(|(label, _)| label == name) {
            Some(label) => label.1 = value,
            None => labels.push((name.to_owned(), value)),
        }
    }
    Ok(GroupingKey { labels })
}

/// A label's (or the job's) value from its raw path segment.
fn decode_value(name: &str, raw: &str, base64: bool) -> Result<String, PushError> {
    let text = decode_segment(raw)?;
    if !base64 {
        if text == "." || text == ".." {
            return Err(error(format!(
                "{} {text:?} is a relative path segment: use {name}@base64 for this value",
                what(name)
            )));
        }
        return Ok(text.into_owned());
    }
    let bytes = URL_SAFE_LENIENT
        .decode(text.trim_end_matches('='))
        .map_err(|e| {
            error(format!(
                "invalid base64 encoding for {} {text:?}: {e}",
                what(name)
            ))
        })?;
    String::from_utf8(bytes).map_err(|_| {
        error(format!(
            "{} {text:?} is not UTF-8 after base64 decoding",
            what(name)
        ))
    })
}

/// A path segment, percent-decoded.
fn decode_segment(raw: &str) -> Result<Cow<'_, str>, PushError> {
    // `percent_decode_str` passes a stray `%` through; Go's URL parser refuses it.
    let escapes_ok = raw.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !escapes_ok {
        return Err(error(format!(
            "invalid percent-encoding in path segment {raw:?}"
        )));
    }
    percent_decode_str(raw).decode_utf8().map_err(|_| {
        error(format!(
            "path segment {raw:?} is not UTF-8 after percent-decoding"
        ))
    })
}

fn what(name: &str) -> String {
    if name == "job" {
        "job name".into()
    } else {
        format!("the value of label {name}")
    }
}

fn error(message: impl Into<String>) -> PushError {
    PushError::Grouping(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(path: &str) -> Vec<(String, String)> {
        match parse(path) {
            Ok(key) => key.labels,
            Err(e) => panic!("{path}: {e}"),
        }
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn refused(path: &str) -> String {
        match parse(path) {
            Err(PushError::Grouping(message)) => message,
            other => panic!("{path}: expected a grouping error, got {other:?}"),
        }
    }

    #[test]
    fn job_first_then_labels_in_path_order() {
        assert_eq!(key("job/some_job"), pairs(&[("job", "some_job")]));
        assert_eq!(
            key("job/j/zone/b/instance/i1/a/x"),
            pairs(&[("job", "j"), ("zone", "b"), ("instance", "i1"), ("a", "x")])
        );
        let parsed = parse("job/j/instance/i1").unwrap();
        assert_eq!(parsed.get("instance"), Some("i1"));
        assert_eq!(parsed.get("job"), Some("j"));
        assert_eq!(parsed.job(), "j");
        assert_eq!(parsed.get("zone"), None);
    }

    #[test]
    fn base64_values_as_the_pushgateway_decodes_them() {
        // From the Pushgateway's own tests and README.
        assert_eq!(
            key("job@base64/dGVzdC9qb2I="),
            pairs(&[("job", "test/job")])
        );
        assert_eq!(
            key("job@base64/dGVzdC9qb2I=/instance@base64/dGVzdGluc3RhbmNl"),
            pairs(&[("job", "test/job"), ("instance", "testinstance")])
        );
        assert_eq!(
            key("job/j/label_name2@base64/bGFiZWwvdmFsdWUy=="),
            pairs(&[("job", "j"), ("label_name2", "label/value2")])
        );
        assert_eq!(
            key("job/directory_cleaner/path@base64/L3Zhci90bXA"),
            pairs(&[("job", "directory_cleaner"), ("path", "/var/tmp")])
        );
        assert_eq!(
            key("job/titan/name@base64/zqDPgc6_zrzOt864zrXPjc-C"),
            pairs(&[("job", "titan"), ("name", "Προμηθεύς")])
        );
        // Padding optional, excess or short padding ignored, a lone `=` is empty.
        assert_eq!(key("job/j/a@base64/YQ"), pairs(&[("job", "j"), ("a", "a")]));
        assert_eq!(
            key("job/j/a@base64/YQ="),
            pairs(&[("job", "j"), ("a", "a")])
        );
        assert_eq!(
            key("job/j/a@base64/YQ==="),
            pairs(&[("job", "j"), ("a", "a")])
        );
        assert_eq!(
            key("job/example/first_label@base64/=/second_label/foobar"),
            pairs(&[
                ("job", "example"),
                ("first_label", ""),
                ("second_label", "foobar")
            ])
        );
        // Go's decoder is not strict about the unused trailing bits.
        assert_eq!(key("job/j/a@base64/YR"), pairs(&[("job", "j"), ("a", "a")]));
        // The URL-safe alphabet only.
        assert!(refused("job/j/a@base64/a+b").contains("base64"));
        assert!(refused("job/j/label_name1@base64/foo.bar/b/c").contains("base64"));
        assert!(refused("job@base64/%%%").contains("percent"));
        assert!(refused("job@base64/!!").contains("invalid base64 encoding for job name"));
        // 0xFF is not UTF-8.
        assert!(refused("job/j/a@base64/_w").contains("not UTF-8"));
    }

    #[test]
    fn percent_decoding_happens_per_segment() {
        assert_eq!(
            key("job/titan/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82"),
            pairs(&[("job", "titan"), ("name", "Προμηθεύς")])
        );
        assert_eq!(key("job/a%20b"), pairs(&[("job", "a b")]));
        // `+` is a plus in a path, not a space.
        assert_eq!(key("job/a+b"), pairs(&[("job", "a+b")]));
        // Split before decoding: an encoded slash stays in the value.
        assert_eq!(
            key("job/j/path/%2Fvar%2Ftmp"),
            pairs(&[("job", "j"), ("path", "/var/tmp")])
        );
        // Names and the `job` segment are decoded too, as Go decodes the whole path.
        assert_eq!(key("jo%62/j"), pairs(&[("job", "j")]));
        assert_eq!(
            key("job/j/a%40base64/YQ"),
            pairs(&[("job", "j"), ("a", "a")])
        );
        assert!(refused("job/j/a/%FF").contains("not UTF-8"));
        assert!(refused("job/j/a/%zz").contains("invalid percent-encoding"));
        assert!(refused("job/j/a/x%4").contains("invalid percent-encoding"));
        assert!(refused("job/j/a/x%").contains("invalid percent-encoding"));
        // A decoded `..` is what Go would clean away, encoded or not.
        assert!(refused("job/j/a/%2E%2E").contains("a@base64"));
        assert!(refused("job/..").contains("job@base64"));
        assert!(refused("job/j/a/.").contains("relative"));
        assert_eq!(key("job/j/a/..."), pairs(&[("job", "j"), ("a", "...")]));
        assert_eq!(
            key("job/j/a@base64/Li4"),
            pairs(&[("job", "j"), ("a", "..")])
        );
    }

    #[test]
    fn the_job_is_required() {
        for path in [
            "job",
            "job/",
            "job//a/b",
            "job@base64/=",
            "job@base64/",
            "job@base64/==/a/b",
        ] {
            assert_eq!(refused(path), "job name is required", "{path}");
        }
        for path in [
            "",
            "jobs/x",
            "JOB/x",
            "instance/i/job/j",
            "/job/j",
            "job%40base6/x",
        ] {
            assert!(
                refused(path).starts_with("the path must start with job/"),
                "{path:?}"
            );
        }
    }

    #[test]
    fn label_names_are_checked() {
        assert!(refused("job/j/1a/x").contains("invalid label name \"1a\""));
        assert!(refused("job/j/a-b/x").contains("\"a-b\""));
        assert!(refused("job/j/a:b/x").contains("\"a:b\""));
        assert!(refused("job/j/@base64/x").contains("invalid label name \"\""));
        assert!(refused("job/j/a@base64@base64/x").contains("a@base64"));
        // The Pushgateway refuses model.ReservedLabelPrefix, also before `@base64`.
        assert!(refused("job/j/__name__/x").contains("reserved"));
        assert!(refused("job/j/__a@base64/YQ").contains("reserved"));
        assert_eq!(key("job/j/_a/x"), pairs(&[("job", "j"), ("_a", "x")]));
    }

    #[test]
    fn every_label_needs_a_value() {
        assert!(refused("job/j/a").contains("odd number of components"));
        assert!(refused("job/j/a/1/b").contains("\"a/1/b\""));
        // A trailing slash after a value leaves a label without one.
        assert!(refused("job/j/a/1/").contains("odd number of components"));
        // Empty segments elsewhere are `//`.
        assert!(refused("job/j/a//b/c").contains("@base64/="));
        assert!(refused("job/j//a").contains("empty path segment"));
        assert!(refused("job/j/a/1//").contains("empty path segment"));
        assert!(refused("job/j/a/1///").contains("odd number"));
    }

    #[test]
    fn trailing_slashes_as_the_pushgateway_reads_them() {
        assert_eq!(key("job/j/"), pairs(&[("job", "j")]));
        // Its split of "/a/" is ["a", ""]: `a` gets the empty value.
        assert_eq!(key("job/j/a/"), pairs(&[("job", "j"), ("a", "")]));
        assert_eq!(
            key("job/j/b/1/a/"),
            pairs(&[("job", "j"), ("b", "1"), ("a", "")])
        );
        assert_eq!(key("job/j/a@base64/"), pairs(&[("job", "j"), ("a", "")]));
    }

    #[test]
    fn repeated_labels_keep_the_last_value_and_job_comes_from_the_path() {
        assert_eq!(
            key("job/j/a/1/b/2/a/3"),
            pairs(&[("job", "j"), ("a", "3"), ("b", "2")])
        );
        assert_eq!(
            key("job/j/a/1/a@base64/Mg"),
            pairs(&[("job", "j"), ("a", "2")])
        );
        assert_eq!(
            key("job/j/job/other/a/1"),
            pairs(&[("job", "j"), ("a", "1")])
        );
        assert_eq!(key("job/j/job@base64/b3RoZXI"), pairs(&[("job", "j")]));
        // Still checked, as the Pushgateway decodes it before overwriting it.
        assert!(refused("job/j/job@base64/!").contains("base64"));
        let parsed = parse("job/j/a/1/a/2").unwrap();
        assert_eq!(parsed.get("a"), Some("2"));
    }
}
