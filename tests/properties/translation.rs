//! Matchers → SQL: no value or name leaves its literal or identifier.

use super::*;

// ---------------------------------------------------------------------------------------
// Matchers → SQL

/// Words the translator writes itself. Anything else outside a literal or an identifier
/// came from a client.
const SQL_WORDS: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "BETWEEN",
    "ORDER",
    "BY",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "measure_name",
    "time",
    "measure_value",
    "double",
    "to_milliseconds",
    "from_milliseconds",
    "regexp_like",
    "coalesce",
];

const SQL_PUNCTUATION: &[&str] = &[",", "(", ")", ".", "=", "<>", "::"];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Number(String),
    Punct(String),
    /// A '…' string literal, unescaped.
    Literal(String),
    /// A "…" identifier, unescaped.
    Identifier(String),
}

/// Splits SQL into tokens the way a SQL lexer does, independently of the translator:
/// quotes open a literal or identifier that a doubled quote does not close; nothing else
/// escapes (Timestream's literals have no backslash escapes).
fn tokens(sql: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' {
            i += 1;
        } else if c == '\'' || c == '"' {
            let mut content = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated {c}…{c}")),
                    Some(&q) if q == c && chars.get(i + 1) == Some(&c) => {
                        content.push(c);
                        i += 2;
                    }
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(&other) => {
                        content.push(other);
                        i += 1;
                    }
                }
            }
            // A quoted token ends where a token may end, not glued to another.
            match chars.get(i).copied() {
                None | Some(' ' | ',' | ')' | '.') => {}
                Some(next) => return Err(format!("{next:?} right after a closing {c}")),
            }
            out.push(if c == '\'' {
                Token::Literal(content)
            } else {
                Token::Identifier(content)
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            out.push(Token::Number(chars[start..i].iter().collect()));
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            if two == "<>" || two == "::" {
                out.push(Token::Punct(two));
                i += 2;
            } else {
                out.push(Token::Punct(c.to_string()));
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Every client-supplied value sits inside a literal, every name inside an identifier,
/// and outside them there are only the translator's own words, operators and numbers.
fn check_sql(
    select: &sql::Select,
    identifiers: &[&str],
    matchers: &[Matcher],
    (start, end): (i64, i64),
) -> Result<(), TestCaseError> {
    let statement = &select.sql;
    let tokens =
        tokens(statement).map_err(|e| TestCaseError::fail(format!("{e} in {statement}")))?;
    let mut literals = vec![String::new()];
    let mut regexes = Vec::new();
    for m in matchers {
        match m.kind {
            MatchKind::Equal | MatchKind::NotEqual => literals.push(m.value.clone()),
            MatchKind::Regex | MatchKind::NotRegex => {
                if let Ok(portable) = sql::portable_regex(&m.value) {
                    regexes.push(format!("^(?s:{portable})\\z"));
                }
            }
        }
    }
    let numbers = [
        start.to_string(),
        end.to_string(),
        "0".into(),
        "1".into(),
        "2".into(),
    ];
    for token in &tokens {
        match token {
            Token::Word(w) => prop_assert!(
                SQL_WORDS.contains(&w.as_str()),
                "word {w:?} outside quotes in {statement}"
            ),
            Token::Number(n) => {
                prop_assert!(numbers.contains(n), "number {n:?} in {statement}")
            }
            Token::Punct(p) => prop_assert!(
                SQL_PUNCTUATION.contains(&p.as_str()),
                "{p:?} outside quotes in {statement}"
            ),
            Token::Identifier(id) => prop_assert!(
                identifiers.contains(&id.as_str()),
                "identifier {id:?} in {statement}"
            ),
            Token::Literal(l) if regexes.contains(l) => {
                // Timestream Local runs regexp_like with Rust's regex crate: a translated
                // pattern it cannot compile would turn a valid PromQL regex into an error.
                prop_assert!(
                    regex::Regex::new(l).is_ok(),
                    "translated regex {l:?} does not compile in Rust"
                );
            }
            Token::Literal(l) => {
                prop_assert!(literals.contains(l), "literal {l:?} in {statement}")
            }
        }
    }
    for keyword in ["SELECT", "FROM", "WHERE", "ORDER"] {
        let count = tokens
            .iter()
            .filter(|t| **t == Token::Word(keyword.into()))
            .count();
        prop_assert_eq!(count, 1, "{} {} times in {}", keyword, count, statement);
    }
    Ok(())
}

fn match_kind() -> impl Strategy<Value = MatchKind> {
    prop_oneof![
        Just(MatchKind::Equal),
        Just(MatchKind::NotEqual),
        Just(MatchKind::Regex),
        Just(MatchKind::NotRegex),
    ]
}

/// A table's dimension columns, and matchers on them, on `__name__`, or on columns the
/// table lacks.
fn select_inputs() -> impl Strategy<Value = (Vec<String>, Vec<Matcher>)> {
    prop::collection::vec(hostile(), 0..4).prop_flat_map(|dimensions| {
        let mut names = dimensions.clone();
        names.push("__name__".into());
        let matcher = (
            match_kind(),
            prop_oneof![prop::sample::select(names), hostile()],
            prop_oneof![hostile(), regexish()],
        )
            .prop_map(|(kind, name, value)| Matcher { kind, name, value });
        (Just(dimensions), prop::collection::vec(matcher, 0..4))
    })
}

proptest! {
    #![proptest_config(config(1000))]

    /// Without it: a label value or name (or a table name) could close its quotes and add
    /// SQL of its own: SQL injection through remote read. Equal and NotEqual never fail;
    /// a regex either translates (into a pattern Rust's regex crate compiles) or is
    /// refused as the client's error (a 400), never a panic.
    #[test]
    fn matchers_stay_inside_their_literals_and_identifiers(
        (dimensions, matchers) in select_inputs(),
        database in hostile(),
        table in hostile(),
        (start, end) in (time(), time()).prop_map(|(a, b)| (a.min(b), a.max(b))),
    ) {
        match sql::select(&database, &table, &dimensions, false, &matchers, start, end) {
            Ok(None) => {}
            Ok(Some(select)) => {
                prop_assert_eq!(&select.dimensions, &dimensions);
                let mut identifiers = vec![database.as_str(), table.as_str()];
                identifiers.extend(dimensions.iter().map(String::as_str));
                check_sql(&select, &identifiers, &matchers, (start, end))?;
            }
            Err(sql::TranslateError::Regex { label, pattern, .. }) => prop_assert!(
                matchers.iter().any(|m| {
                    matches!(m.kind, MatchKind::Regex | MatchKind::NotRegex)
                        && m.name == label
                        && m.value == pattern
                }),
                "refused {label:?} = {pattern:?}, which is no regex matcher"
            ),
            Err(other) => return Err(TestCaseError::fail(other.to_string())),
        }
    }
}
