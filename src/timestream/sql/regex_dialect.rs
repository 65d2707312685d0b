//! Prometheus' regexes (RE2 syntax) rewritten so that Timestream, whose regex functions
//! are Java's, and Timestream Local, which uses Rust's `regex`, both read them as RE2
//! does; what has no faithful equivalent is refused, never approximated.
//!
//! Pure text to text. Does not anchor the pattern or compile it: [`super`] does both.

/// Rewrites RE2 syntax whose meaning differs in Java's (or Rust's) regex dialect:
/// - `$` means end of text in RE2, but also "before a final newline" in Java: `\z`.
/// - `\Q…\E` quoting (which Rust lacks) becomes escaped characters.
/// - Inside a class, `[` and `&&` are literal in RE2 but nest or intersect in Java and
///   Rust: escaped. POSIX classes `[:alpha:]` become explicit ASCII ranges.
/// - `(?P<name>` becomes `(?<name>`, which both read.
/// - `\C` (any byte) and `(?m)` multi-line mode have no faithful equivalent: refused.
///
/// The pattern was already validated by the `regex` crate (RE2 syntax).
pub fn portable_regex(re2: &str) -> Result<String, String> {
    let chars: Vec<char> = re2.chars().collect();
    let mut out = String::with_capacity(re2.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let Some(&next) = chars.get(i + 1) else {
                    return Err("trailing backslash".into());
                };
                if next == 'Q' {
                    i += 2;
                    while i < chars.len() && !(chars[i] == '\\' && chars.get(i + 1) == Some(&'E')) {
                        push_literal(&mut out, chars[i]);
                        i += 1;
                    }
                    i += 2;
                    continue;
                }
                if next == 'C' {
                    return Err("\\C (any byte) is not supported".into());
                }
                out.push(c);
                out.push(next);
                i += 2;
                continue;
            }
            '[' if in_class => {
                if chars.get(i + 1) == Some(&':') {
                    let rest: String = chars[i..].iter().collect();
                    // The class name's end is searched after `[:`, so that `[:]` is
                    // not read as a name ending before it starts.
                    if let Some(end) = rest[2..].find(":]").map(|end| end + 2) {
                        let name = &rest[2..end];
                        out.push_str(posix_class(name)?);
                        i += rest[..end + 2].chars().count();
                        continue;
                    }
                }
                out.push_str("\\[");
            }
            '[' => {
                in_class = true;
                out.push('[');
                // A leading `^` and a leading `]` are part of the class syntax.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '&' if in_class => out.push_str("\\&"),
            '~' if in_class => out.push_str("\\~"),
            '-' if in_class && chars.get(i + 1) == Some(&'-') => out.push_str("\\-"),
            '$' if !in_class => out.push_str("\\z"),
            '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                let rest: String = chars[i..].iter().take(4).collect();
                if rest.starts_with("(?P<") {
                    out.push_str("(?<");
                    i += 4;
                    continue;
                }
                let flags: String = chars[i + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphabetic() || **c == '-')
                    .collect();
                if flags.contains('m') {
                    return Err("multi-line mode (?m) is not supported".into());
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() {
        out.push('\\');
    }
    out.push(c);
}

fn posix_class(name: &str) -> Result<&'static str, String> {
    Ok(match name {
        "alnum" => "0-9A-Za-z",
        "alpha" => "A-Za-z",
        "ascii" => "\\x00-\\x7F",
        "blank" => "\\t ",
        "cntrl" => "\\x00-\\x1F\\x7F",
        "digit" => "0-9",
        "graph" => "!-~",
        "lower" => "a-z",
        "print" => " -~",
        "punct" => "!-/:-@\\[-`{-~",
        "space" => "\\t\\n\\x0B\\f\\r ",
        "upper" => "A-Z",
        "word" => "0-9A-Za-z_",
        "xdigit" => "0-9A-Fa-f",
        other => return Err(format!("POSIX class [:{other}:] is not supported")),
    })
}
