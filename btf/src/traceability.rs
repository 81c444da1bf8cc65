//! Deciding, before anything is loaded, whether a function can be probed, and if
//! not, why. Each reason has a stable code for scripts and a message for people.

use serde::Serialize;

use crate::denylist;
use crate::skb::{Candidate, Kind, SkbRef};
use crate::symbols::Names;

/// Why a function is not traceable. Checks run in this order; the first that
/// applies is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Only takes `struct sk_buff **`.
    SkbDoublePointer,
    Denylisted,
    Varargs,
    TooManyArgs,
    StructByValue,
    UnsupportedReturn,
    NotInFilterFunctions,
    NoAddress,
    AmbiguousAddress,
    DuplicateBtf,
}

impl Reason {
    pub const ALL: [Reason; 10] = [
        Reason::SkbDoublePointer,
        Reason::Denylisted,
        Reason::Varargs,
        Reason::TooManyArgs,
        Reason::StructByValue,
        Reason::UnsupportedReturn,
        Reason::NotInFilterFunctions,
        Reason::NoAddress,
        Reason::AmbiguousAddress,
        Reason::DuplicateBtf,
    ];

    /// Stable snake_case code, as printed in `list` and its JSON.
    pub fn code(self) -> &'static str {
        match self {
            Reason::SkbDoublePointer => "skb_double_pointer",
            Reason::Denylisted => "denylisted",
            Reason::Varargs => "varargs",
            Reason::TooManyArgs => "too_many_args",
            Reason::StructByValue => "struct_by_value",
            Reason::UnsupportedReturn => "unsupported_return",
            Reason::NotInFilterFunctions => "not_in_filter_functions",
            Reason::NoAddress => "no_address",
            Reason::AmbiguousAddress => "ambiguous_address",
            Reason::DuplicateBtf => "duplicate_btf",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Reason::SkbDoublePointer => "takes only a struct sk_buff ** (no skb pointer to read the packet from)",
            Reason::Denylisted => "on vrft-tui's denylist: probing it would trace the tracer (see docs/btf.md)",
            Reason::Varargs => "variadic: the verifier refuses to load programs for it",
            Reason::TooManyArgs => "more arguments than this kernel's BPF trampoline passes",
            Reason::StructByValue => "passes a struct or union by value, which the trampoline cannot relay",
            Reason::UnsupportedReturn => "returns a struct or union by value: fexit programs cannot load",
            Reason::NotInFilterFunctions => {
                "not in available_filter_functions: notrace, inlined, or an out-of-line copy of a static inline \
                 (attach fails with EBUSY)"
            }
            Reason::NoAddress => "no text symbol of this name in /proc/kallsyms: inlined, only a compiler clone (.isra, .constprop), or its module is not loaded",
            Reason::AmbiguousAddress => {
                "several text symbols in /proc/kallsyms share this name: the kernel attaches to one of them, \
                 maybe not this one"
            }
            Reason::DuplicateBtf => {
                "a second BTF entry of the same name: it resolves to the same address as the first (EBUSY)"
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traceability {
    Traceable,
    Rejected(Reason),
}

impl Traceability {
    pub fn is_traceable(self) -> bool {
        self == Traceability::Traceable
    }

    /// "traceable" or the reason code.
    pub fn code(self) -> &'static str {
        match self {
            Traceability::Traceable => "traceable",
            Traceability::Rejected(r) => r.code(),
        }
    }

    pub fn reason(self) -> Option<Reason> {
        match self {
            Traceability::Traceable => None,
            Traceability::Rejected(r) => Some(r),
        }
    }
}

/// Trampoline argument limit when the user does not give one: x86-64 passed at most
/// 6 arguments until Linux 6.6 ("bpf, x86: allow function arguments up to 12 for
/// TRACING"); from then on 12, the BPF limit (MAX_BPF_FUNC_ARGS). Measured: 6 on
/// Debian's 6.1, 12 on 6.12. Unknown releases and other architectures get 6.
pub fn default_max_args(kernel_release: &str) -> usize {
    let mut parts = kernel_release.trim().split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    match (major, minor) {
        (Some(major), Some(minor)) if cfg!(target_arch = "x86_64") && (major, minor) >= (6, 6) => {
            12
        }
        _ => 6,
    }
}

/// What the symbol checks can see; `None` lists were unreadable and check nothing.
pub(crate) struct Context<'a> {
    pub max_args: usize,
    pub filter_functions: Option<&'a Names<'a>>,
    pub kallsyms: Option<&'a Names<'a>>,
}

/// Decides one function of `module`.
pub(crate) fn decide(c: &Candidate, module: &str, cx: &Context) -> Traceability {
    let by_value = |k: &Kind| matches!(k, Kind::Struct | Kind::Union | Kind::Float | Kind::Other);
    let reason = if c.skb_ref == SkbRef::PtrPtr {
        Some(Reason::SkbDoublePointer)
    } else if denylist::reason(&c.name).is_some() {
        Some(Reason::Denylisted)
    } else if c.variadic {
        Some(Reason::Varargs)
    } else if c.args.len() > cx.max_args {
        Some(Reason::TooManyArgs)
    } else if c.args.iter().any(by_value) {
        Some(Reason::StructByValue)
    } else if by_value(&c.ret) {
        Some(Reason::UnsupportedReturn)
    } else if cx
        .filter_functions
        .is_some_and(|f| f.count(module, &c.name) == 0)
    {
        Some(Reason::NotInFilterFunctions)
    } else if let Some(k) = cx
        .kallsyms
        .map(|k| k.count(module, &c.name))
        .filter(|&n| n != 1)
    {
        Some(if k == 0 {
            Reason::NoAddress
        } else {
            Reason::AmbiguousAddress
        })
    } else if !c.first_of_name {
        Some(Reason::DuplicateBtf)
    } else {
        None
    };
    reason.map_or(Traceability::Traceable, Traceability::Rejected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trampoline_limit_follows_the_kernel_release() {
        assert_eq!(default_max_args("6.1.0-56-amd64"), 6);
        assert_eq!(default_max_args("6.5.13"), 6);
        assert_eq!(default_max_args("6.6.0"), 12);
        assert_eq!(default_max_args("6.12.57+deb12-amd64"), 12);
        assert_eq!(default_max_args("6.18.44-fc-v669\n"), 12);
        assert_eq!(default_max_args("garbage"), 6);
    }

    #[test]
    fn codes_are_unique_snake_case() {
        let codes: std::collections::HashSet<_> = Reason::ALL.iter().map(|r| r.code()).collect();
        assert_eq!(codes.len(), Reason::ALL.len());
        assert!(codes
            .iter()
            .all(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_')));
    }
}
