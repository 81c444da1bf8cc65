//! Splits a filter into tokens: parentheses, `and`/`&&`, `or`/`||`, `not`/`!`, and words
//! (`udp`, `dur>10ms`, `src=10.0.0.0/24`). Each token keeps where it starts, so that an error
//! can point at it.

use super::ParseError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    LParen,
    RParen,
    And,
    Or,
    Not,
    Word,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub tok: Tok,
    pub text: &'a str,
    /// Byte offset in the filter.
    pub at: usize,
}

impl ParseError {
    /// `'text' (column N): msg`, about `text` found at byte `at` of `src`.
    pub(super) fn at(src: &str, at: usize, text: &str, msg: &str) -> ParseError {
        ParseError {
            message: format!("'{text}' (column {}): {msg}", src[..at].chars().count() + 1),
            span: at..at + text.len(),
        }
    }
}

pub(super) fn lex(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let pair = |b: u8| bytes.get(i + 1) == Some(&b);
        let (tok, len) = match c {
            _ if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'&' if pair(b'&') => (Tok::And, 2),
            b'|' if pair(b'|') => (Tok::Or, 2),
            b'&' | b'|' => {
                let op = if c == b'&' { "&& or and" } else { "|| or or" };
                let msg = format!("not an operator, use {op}");
                return Err(ParseError::at(src, i, &src[i..i + 1], &msg));
            }
            // `!` negates what follows; `key!=value` stays inside its word.
            b'!' => (Tok::Not, 1),
            _ => {
                let end = src[i..]
                    // The same whitespace as above: a word is never empty.
                    .find(|c: char| c.is_ascii_whitespace() || "()&|".contains(c))
                    .map_or(src.len(), |n| i + n);
                let word = &src[i..end];
                let tok = match word.to_ascii_lowercase().as_str() {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    _ => Tok::Word,
                };
                (tok, end - i)
            }
        };
        out.push(Token {
            tok,
            text: &src[i..i + len],
            at: i,
        });
        i += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<(Tok, &str)> {
        lex(s).unwrap().iter().map(|t| (t.tok, t.text)).collect()
    }

    #[test]
    fn operators_words_and_parentheses() {
        use Tok::*;
        assert_eq!(
            kinds("!drop&&(udp||tcp) AND not dur>=1ms"),
            [
                (Not, "!"),
                (Word, "drop"),
                (And, "&&"),
                (LParen, "("),
                (Word, "udp"),
                (Or, "||"),
                (Word, "tcp"),
                (RParen, ")"),
                (And, "AND"),
                (Not, "not"),
                (Word, "dur>=1ms"),
            ]
        );
        assert_eq!(kinds("proto!=udp"), [(Word, "proto!=udp")]);
        assert_eq!(kinds("src=fd00::1"), [(Word, "src=fd00::1")]);
        // Non-ASCII text (a no-break space pasted in) stays inside a word, for the error.
        assert_eq!(
            kinds("udp\u{a0}tcp é"),
            [(Word, "udp\u{a0}tcp"), (Word, "é")]
        );
    }

    #[test]
    fn a_single_ampersand_or_bar_is_an_error_with_its_column() {
        let e = lex("udp & tcp").unwrap_err();
        assert_eq!(e.message, "'&' (column 5): not an operator, use && or and");
        assert_eq!(e.span, 4..5);
        assert!(lex("udp|tcp").unwrap_err().message.contains("use || or or"));
    }
}
