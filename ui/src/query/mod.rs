//! The display filter typed in the `f` bar, given to `vrft-tui dump FILE FILTER` and to
//! `vrft-tui replay --filter`: terms combined with `and`/`&&`, `or`/`||`, `not`/`!` and
//! parentheses; terms side by side are ANDed. Precedence: not, and, or.
//!
//! ```text
//! udp tcp icmp icmp6 arp ip ip6                  protocol words (arp/ip/ip6: the ethertype)
//! iface=veth0 iface=veth*  netns=b netns=4026531840  func=ip_rcv func=tcp_*  cpu=1
//! proto=udp ipv=6  host=10.0.0.1 host=192.168.42.0/24  src= dst= (saddr= daddr=)
//! port=53 sport= dport=  dur>100us dur<=2ms  calls>=20  drop incomplete freed
//! drop=NO_SOCKET  reason=*CSUM*          (drops with that reason; frees with it, delivered or not)
//! kind=netlink kind=unix kind=other kind=network (also kind:netlink)
//! key!=value is not key=value
//! ```
//!
//! Names are resolved against the session when the filter is parsed (functions, interfaces,
//! namespaces, drop reasons), so a typo is an error rather than an empty list. Only network
//! packets are listed unless a `kind=` term (or the `a` key) asks for others.

mod lex;
mod net;
mod parse;
mod term;

use std::net::IpAddr;
use std::ops::Range;

use crate::model::Packet;
use parse::Expr;
pub use term::glob;
use term::Term;
use vrft_events::session::{Flow, SessionInfo};

/// A filter that does not parse: one line saying what is wrong and how to fix it, and the
/// bytes of the filter it is about (empty at the end when something is missing there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub span: Range<usize>,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    text: String,
    /// `None` for an empty filter.
    expr: Option<Expr>,
}

impl Query {
    /// Parses and resolves the filter against the session. The error is one line that
    /// quotes the offending token with its column, says what is wrong and how to fix it.
    pub fn parse(text: &str, info: &SessionInfo) -> Result<Query, String> {
        Self::parse_spanned(text, info).map_err(|e| e.message)
    }

    /// [`Query::parse`] with where the error is, for the input bar to mark it.
    pub fn parse_spanned(text: &str, info: &SessionInfo) -> Result<Query, ParseError> {
        let toks = lex::lex(text)?;
        let expr = if toks.is_empty() {
            None
        } else {
            Some(parse::parse(text, toks, info)?)
        };
        Ok(Query {
            text: text.trim().to_string(),
            expr,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }

    /// The query chooses kinds of packets itself (`kind=`, negated or not): the list then
    /// stops hiding the packets that are not network packets.
    pub fn names_kind(&self) -> bool {
        fn any_kind(e: &Expr) -> bool {
            match e {
                Expr::Term(t) => matches!(t, Term::Kind(_)),
                Expr::Not(e) => any_kind(e),
                Expr::And(all) | Expr::Or(all) => all.iter().any(any_kind),
            }
        }
        self.expr.as_ref().is_some_and(any_kind)
    }

    pub fn matches(&self, p: &Packet, info: &SessionInfo) -> bool {
        fn eval(e: &Expr, p: &Packet, info: &SessionInfo) -> bool {
            match e {
                Expr::Term(t) => t.matches(p, info),
                Expr::Not(e) => !eval(e, p, info),
                Expr::And(all) => all.iter().all(|e| eval(e, p, info)),
                Expr::Or(all) => all.iter().any(|e| eval(e, p, info)),
            }
        }
        self.expr.as_ref().is_none_or(|e| eval(e, p, info))
    }
}

/// The filter that shows a flow in both directions, written in the filter language so
/// that the bar shows it and it can be edited: `proto=udp and ((src=A and sport=X and dst=B
/// and dport=Y) or (src=B and sport=Y and dst=A and dport=X))`; without ports when the
/// protocol has none.
pub fn flow_filter(f: &Flow) -> String {
    let side = |src: IpAddr, sport: u16, dst: IpAddr, dport: u16| {
        if f.sport == 0 && f.dport == 0 {
            format!("(src={src} and dst={dst})")
        } else {
            format!("(src={src} and sport={sport} and dst={dst} and dport={dport})")
        }
    };
    format!(
        "proto={} and ({} or {})",
        f.proto_name(),
        side(f.src, f.sport, f.dst, f.dport),
        side(f.dst, f.dport, f.src, f.sport)
    )
}

#[cfg(test)]
mod tests;
