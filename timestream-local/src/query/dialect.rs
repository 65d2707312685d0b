//! Timestream's SQL dialect, where it differs from what DataFusion's parser reads, turned
//! into DataFusion SQL before parsing. A token-level pass (string literals, quoted
//! identifiers and comments are copied untouched):
//!
//! - `measure_value::double` (and the other typed measure columns) is a column name in
//!   Timestream; the stock parser reads it as a cast of a column `measure_value`. It
//!   becomes the quoted identifier `"measure_value::double"`.
//! - Interval literals `15m`, `1h`, `100ms`, `1ns`… become `INTERVAL '15 minute'`; the
//!   stock parser fails on them (or reads `1d` as `1 AS d`).
//!
//! Functions (`ago`, `bin`, `from_milliseconds`, …) need no rewrite: see
//! [`super::functions`].

/// Rewrites Timestream SQL into SQL DataFusion parses the same way.
pub fn rewrite(sql: &str) -> String {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len() + 16);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        match b {
            b'\'' | b'"' => {
                i = quoted_end(bytes, i, b);
                out.push_str(&sql[start..i]);
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
                out.push_str(&sql[start..i]);
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = sql[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                out.push_str(&sql[start..i]);
            }
            _ if is_ident_start(b) => {
                i = word_end(bytes, i);
                let word = &sql[start..i];
                if word.eq_ignore_ascii_case("measure_value") && sql[i..].starts_with("::") {
                    let type_end = word_end(bytes, i + 2);
                    let ty = &sql[i + 2..type_end];
                    if !ty.is_empty() {
                        out.push_str(&format!("\"measure_value::{}\"", ty.to_ascii_lowercase()));
                        i = type_end;
                        continue;
                    }
                }
                out.push_str(word);
            }
            b'0'..=b'9' => {
                while i < bytes.len() && (bytes[i].is_ascii_digit() || bytes[i] == b'.') {
                    i += 1;
                }
                let number = &sql[start..i];
                let unit_end = word_end(bytes, i);
                match unit(&sql[i..unit_end]) {
                    Some(unit) if !number.ends_with('.') => {
                        out.push_str(&format!("INTERVAL '{number} {unit}'"));
                        i = unit_end;
                    }
                    _ => out.push_str(number),
                }
            }
            _ => {
                let len = sql[i..].chars().next().map_or(1, char::len_utf8);
                i += len;
                out.push_str(&sql[start..i]);
            }
        }
    }
    out
}

/// Timestream's interval literal units, as DataFusion's interval parser names them.
fn unit(suffix: &str) -> Option<&'static str> {
    Some(match suffix {
        "ns" => "nanosecond",
        "us" => "microsecond",
        "ms" => "millisecond",
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        _ => return None,
    })
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn word_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
        i += 1;
    }
    i
}

/// The end of a quoted literal or identifier starting at `i` (a doubled quote escapes).
fn quoted_end(bytes: &[u8], mut i: usize, quote: u8) -> usize {
    i += 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Line and column (both from 1) of the first occurrence of `word` as a token outside
/// literals, for error messages shaped like Timestream's (`line 1:8: …`).
pub fn position_of(sql: &str, word: &str) -> (usize, usize) {
    let bytes = sql.as_bytes();
    let mut i = 0;
    let mut found = None;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' => i = quoted_end(bytes, i, b'\''),
            b'"' => {
                let end = quoted_end(bytes, i, b'"');
                // Bytes, not a str slice: an unterminated quote ends the text, maybe
                // inside a multi-byte character.
                let inner = &bytes[i + 1..end.saturating_sub(1).max(i + 1)];
                if String::from_utf8_lossy(inner).replace("\"\"", "\"") == word {
                    found = Some(i);
                    break;
                }
                i = end;
            }
            b if is_ident_start(b) => {
                let end = word_end(bytes, i);
                let token = &sql[i..end];
                let token = if token == "measure_value" && sql[end..].starts_with("::") {
                    &sql[i..word_end(bytes, end + 2)]
                } else {
                    token
                };
                if token == word {
                    found = Some(i);
                    break;
                }
                i = end.max(i + 1);
            }
            _ => i += 1,
        }
    }
    let at = found.unwrap_or(0);
    let line = sql[..at].matches('\n').count() + 1;
    let column = at - sql[..at].rfind('\n').map_or(0, |n| n + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_measure_columns_become_quoted_identifiers() {
        assert_eq!(
            rewrite("SELECT measure_value::double, measure_value::BIGINT FROM t"),
            r#"SELECT "measure_value::double", "measure_value::bigint" FROM t"#
        );
    }

    #[test]
    fn interval_literals_become_intervals() {
        assert_eq!(
            rewrite("WHERE time > ago(15m) GROUP BY bin(time, 1h), 1.5s, 100ms, 3d"),
            "WHERE time > ago(INTERVAL '15 minute') GROUP BY bin(time, INTERVAL '1 hour'), \
             INTERVAL '1.5 second', INTERVAL '100 millisecond', INTERVAL '3 day'"
        );
    }

    #[test]
    fn literals_identifiers_numbers_and_comments_are_left_alone() {
        let sql = "SELECT 'measure_value::double 15m', \"15m\", x1m, 1e5, 42 -- 5m\n/* 1h */";
        assert_eq!(rewrite(sql), sql);
        assert_eq!(rewrite("SELECT 'it''s 5m'"), "SELECT 'it''s 5m'");
    }

    #[test]
    fn positions_are_reported_like_timestream() {
        assert_eq!(position_of("SELECT x FROM t", "x"), (1, 8));
        assert_eq!(position_of("SELECT\n  a, \"b c\"", "b c"), (2, 6));
        assert_eq!(
            position_of("SELECT 'x', measure_value::bigint", "measure_value::bigint"),
            (1, 13)
        );
    }
}
