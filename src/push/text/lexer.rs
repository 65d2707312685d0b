//! The text format's tokens, read as expfmt's `TextParser` reads them: a cursor over the
//! body that knows the line it is on, and Go's number syntax.
//!
//! Every reader that needs a byte past the end of the body fails with "unexpected end of
//! input stream", as expfmt does: only a line that is blank may end without a newline.

use std::borrow::Cow;

use crate::push::PushError;
use crate::series::shown;

pub(super) struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pub pos: usize,
    /// The line the cursor is on, from 1 (0 before the first).
    pub line: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str) -> Self {
        Cursor {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            line: 0,
        }
    }

    /// The byte under the cursor, `None` at the end of the body.
    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// The byte under the cursor; the end of the body here is an error.
    pub fn current(&self) -> Result<u8, PushError> {
        self.peek().ok_or_else(|| self.eof())
    }

    /// Moves past a newline under the cursor, if there is one.
    pub fn newline(&mut self) -> bool {
        let newline = self.peek() == Some(b'\n');
        self.pos += usize::from(newline);
        newline
    }

    pub fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// The character under the cursor, for messages.
    pub fn found(&self) -> char {
        self.text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
            .unwrap_or('\0')
    }

    /// A metric name at the cursor, empty if none starts there.
    pub fn metric_name(&mut self) -> Result<&'a str, PushError> {
        self.name(
            |b| is_label_start(b) || b == b':',
            |b| is_label_char(b) || b == b':',
        )
    }

    /// A label name at the cursor, empty if none starts there.
    pub fn label_name(&mut self) -> Result<&'a str, PushError> {
        self.name(is_label_start, is_label_char)
    }

    fn name(
        &mut self,
        starts: fn(u8) -> bool,
        continues: fn(u8) -> bool,
    ) -> Result<&'a str, PushError> {
        let start = self.pos;
        if !self.peek().is_some_and(starts) {
            return Ok("");
        }
        match self.bytes[start + 1..].iter().position(|&b| !continues(b)) {
            Some(length) => self.take(start, start + 1 + length),
            None => self.take(start, self.bytes.len()),
        }
    }

    /// The text from the cursor to the next blank or newline.
    pub fn until_blank(&mut self) -> Result<&'a str, PushError> {
        let start = self.pos;
        let end = self.bytes[start..]
            .iter()
            .position(|&b| matches!(b, b' ' | b'\t' | b'\n'))
            .map_or(self.bytes.len(), |length| start + length);
        self.take(start, end)
    }

    /// The text from the cursor to the end of the line; the cursor then goes past the
    /// newline.
    pub fn rest_of_line(&mut self) -> Result<&'a str, PushError> {
        let start = self.pos;
        let end = self.bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(self.bytes.len(), |length| start + length);
        let rest = self.take(start, end)?;
        self.pos += 1;
        Ok(rest)
    }

    /// `text[start..end]`, the cursor moved to `end`, which must not be the end of the body.
    fn take(&mut self, start: usize, end: usize) -> Result<&'a str, PushError> {
        self.pos = end;
        if end == self.bytes.len() {
            return Err(self.eof());
        }
        Ok(&self.text[start..end])
    }

    /// A HELP text, to the end of the line: only the escapes `\\` and `\n`.
    pub fn help_text(&mut self) -> Result<(), PushError> {
        loop {
            match self.current()? {
                b'\n' => break,
                b'\\' => {
                    self.pos += 1;
                    if !matches!(self.current()?, b'\\' | b'n') {
                        return Err(self.invalid_escape());
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
        self.pos += 1;
        Ok(())
    }

    /// A quoted label value, the cursor on its opening quote: borrowed unless it has
    /// escapes (`\"`, `\\`, `\n`; any other is refused, as is a raw newline).
    pub fn label_value(&mut self) -> Result<Cow<'a, str>, PushError> {
        let text = self.text;
        let special = |b: &u8| matches!(b, b'"' | b'\\' | b'\n');
        let start = self.pos + 1;
        let mut end = self.bytes[start..]
            .iter()
            .position(special)
            .map_or(self.bytes.len(), |length| start + length);
        self.pos = end;
        if self.current()? == b'"' {
            self.pos += 1;
            return Ok(Cow::Borrowed(&text[start..end]));
        }
        let mut value = String::from(&text[start..end]);
        loop {
            self.pos = end;
            match self.current()? {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Owned(value));
                }
                b'\n' => {
                    let message = format!(
                        "label value {:?} contains unescaped new-line",
                        shown(&value)
                    );
                    return Err(self.error(message));
                }
                _ => {
                    self.pos += 1;
                    value.push(match self.current()? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'n' => '\n',
                        _ => return Err(self.invalid_escape()),
                    });
                    let from = self.pos + 1;
                    end = self.bytes[from..]
                        .iter()
                        .position(special)
                        .map_or(self.bytes.len(), |length| from + length);
                    value.push_str(&text[from..end]);
                }
            }
        }
    }

    /// The optional timestamp and the end of the line, the cursor right after the value.
    pub fn timestamp(&mut self) -> Result<Option<i64>, PushError> {
        if self.newline() {
            return Ok(None);
        }
        self.skip_blanks();
        self.current()?;
        let written = self.until_blank()?;
        let Ok(timestamp) = written.parse::<i64>() else {
            let message = format!("expected integer as timestamp, got {written:?}");
            return Err(self.error(message));
        };
        if self.newline() {
            return Ok(Some(timestamp));
        }
        // expfmt reads the rest of the line dropping backslashes; it is never empty here.
        let spurious: String = self
            .rest_of_line()?
            .chars()
            .filter(|&c| c != '\\')
            .collect();
        Err(self.error(format!("spurious string after timestamp: {spurious:?}")))
    }

    fn invalid_escape(&self) -> PushError {
        self.error(format!("invalid escape sequence '\\{}'", self.found()))
    }

    pub fn eof(&self) -> PushError {
        self.error("unexpected end of input stream".into())
    }

    pub fn error(&self, message: String) -> PushError {
        PushError::Text {
            line: self.line,
            message,
        }
    }
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A float as expfmt's `parseFloat` reads it: Go's `strconv.ParseFloat(s, 64)` after
/// refusing `p`, `P` and `_` (so no hex floats, no digit separators). Unlike Rust's
/// parser, Go takes no sign before `NaN` and refuses values out of range.
pub(super) fn parse_go_float(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    let (negative, unsigned) = match bytes.first() {
        Some(b'+') => (false, &bytes[1..]),
        Some(b'-') => (true, &bytes[1..]),
        _ => (false, bytes),
    };
    if unsigned.eq_ignore_ascii_case(b"inf") || unsigned.eq_ignore_ascii_case(b"infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if bytes.eq_ignore_ascii_case(b"nan") {
        return Some(f64::NAN);
    }
    if !is_decimal(unsigned) {
        return None;
    }
    // Rust reads this grammar, rounding as Go does; Go refuses what rounds to ±Inf.
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// `digits [. digits] [e|E [+|-] digits]`, with at least one mantissa digit.
fn is_decimal(bytes: &[u8]) -> bool {
    let digits = |i: &mut usize| {
        let from = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - from
    };
    let mut i = 0;
    let mut mantissa = digits(&mut i);
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == bytes.len()
}
