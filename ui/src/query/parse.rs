//! Tokens to an expression tree. Precedence, tightest first: `not`, `and`, `or`; two terms
//! side by side are ANDed, so the space-separated filters of before keep their meaning.
//!
//! ```text
//! or    = and { ("or" | "||") and }
//! and   = unary { ["and" | "&&"] unary }
//! unary = ("not" | "!") unary | "(" or ")" | TERM
//! ```

use super::lex::{Tok, Token};
use super::term::{self, Term};
use super::ParseError;
use vrft_events::session::SessionInfo;

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Expr {
    Term(Term),
    Not(Box<Expr>),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token<'a>>,
    pos: usize,
    info: &'a SessionInfo,
}

pub(super) fn parse(
    src: &str,
    toks: Vec<Token<'_>>,
    info: &SessionInfo,
) -> Result<Expr, ParseError> {
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        info,
    };
    let e = p.or()?;
    match p.peek() {
        None => Ok(e),
        Some(t) if t.tok == Tok::RParen => Err(p.at(t, "no '(' to close")),
        // `and` and terms continue an AND, `or` an OR: nothing else can be left over.
        Some(t) => Err(p.at(t, "unexpected here")),
    }
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Token<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn at(&self, t: Token<'_>, msg: &str) -> ParseError {
        ParseError::at(self.src, t.at, t.text, msg)
    }

    /// The operand an operator wants is missing: say which operator, and where.
    fn missing(&self, op: Token<'_>) -> ParseError {
        match self.peek() {
            Some(t) => self.at(t, &format!("expected a term after '{}'", op.text)),
            None => self.at(op, "needs a term after it"),
        }
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut all = vec![self.and()?];
        while let Some(op) = self.peek().filter(|t| t.tok == Tok::Or) {
            self.pos += 1;
            if !self.starts_unary() {
                return Err(self.missing(op));
            }
            all.push(self.and()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::Or(all)
        })
    }

    fn starts_unary(&self) -> bool {
        self.peek()
            .is_some_and(|t| matches!(t.tok, Tok::Not | Tok::LParen | Tok::Word))
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        if !self.starts_unary() {
            return Err(match self.peek() {
                Some(t) => self.at(t, "expected a term"),
                None => ParseError {
                    message: "expected a term at the end".into(),
                    span: self.src.len()..self.src.len(),
                },
            });
        }
        let mut all = vec![self.unary()?];
        loop {
            match self.peek() {
                Some(op) if op.tok == Tok::And => {
                    self.pos += 1;
                    if !self.starts_unary() {
                        return Err(self.missing(op));
                    }
                }
                // Juxtaposition: `udp dport=53` is `udp and dport=53`.
                Some(_) if self.starts_unary() => {}
                _ => break,
            }
            all.push(self.unary()?);
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Expr::And(all)
        })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        let t = self.peek().expect("starts_unary checked a token");
        self.pos += 1;
        match t.tok {
            Tok::Not => {
                if !self.starts_unary() {
                    return Err(self.missing(t));
                }
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Tok::LParen => {
                if self.peek().is_some_and(|n| n.tok == Tok::RParen) {
                    return Err(self.at(t, "empty parentheses"));
                }
                let e = self.or()?;
                match self.peek() {
                    Some(c) if c.tok == Tok::RParen => {
                        self.pos += 1;
                        Ok(e)
                    }
                    _ => Err(self.at(t, "no ')' closes it")),
                }
            }
            _ => {
                let (negate, term) = term::parse(t.text, self.info).map_err(|e| self.at(t, &e))?;
                let e = Expr::Term(term);
                Ok(if negate { Expr::Not(Box::new(e)) } else { e })
            }
        }
    }
}
