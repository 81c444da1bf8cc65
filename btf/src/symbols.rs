//! The kernel's symbol lists: `available_filter_functions` (what ftrace can patch)
//! and `/proc/kallsyms` (which functions have an address). Both are injectable so
//! tests and other machines can feed their own copies.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::ErrorKind;
use std::path::PathBuf;

use crate::source::VMLINUX;

/// The places the running kernel exposes ftrace's list: tracefs, then its old debugfs mount.
pub const FILTER_FUNCTIONS_PATHS: [&str; 2] = [
    "/sys/kernel/tracing/available_filter_functions",
    "/sys/kernel/debug/tracing/available_filter_functions",
];
pub const KALLSYMS_PATH: &str = "/proc/kallsyms";

/// Where to get a symbol list from.
#[derive(Clone, Debug)]
pub enum SymbolSource {
    /// The first of these files that can be read. None readable means "unknown".
    Files(Vec<PathBuf>),
    /// The contents themselves (tests, lists copied from another machine).
    Text(String),
    /// Do not check.
    Skip,
}

/// Whether a check could be made. When it could not, functions are not rejected by it:
/// an unreadable list says nothing about the functions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Checked against the list from this source.
    Checked(String),
    /// Not checked, and why.
    Unknown(String),
}

/// How many entries each (module, name) pair has in a list, for the names asked
/// about. Counting only those keeps the map small: kallsyms has 100k+ functions.
pub(crate) struct Names<'a> {
    wanted: &'a HashSet<&'a str>,
    counts: HashMap<(&'a str, &'a str), u32>,
    any: bool,
}

impl<'a> Names<'a> {
    fn new(wanted: &'a HashSet<&'a str>) -> Self {
        Names {
            wanted,
            counts: HashMap::new(),
            any: false,
        }
    }

    pub(crate) fn count(&self, module: &str, name: &str) -> u32 {
        self.counts.get(&(module, name)).copied().unwrap_or(0)
    }

    fn add(&mut self, module: &'a str, name: &'a str) {
        self.any = true;
        if self.wanted.contains(name) {
            *self.counts.entry((module, name)).or_insert(0) += 1;
        }
    }
}

/// Parses `available_filter_functions`: `name` or `name [module]` per line.
pub(crate) fn parse_filter_functions<'a>(text: &'a str, wanted: &'a HashSet<&'a str>) -> Names<'a> {
    let mut names = Names::new(wanted);
    for line in text.lines() {
        let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
        // Placeholders ftrace leaves for functions whose address it could not resolve.
        if name.is_empty() || name.starts_with("__ftrace_invalid_address__") {
            continue;
        }
        names.add(module_of(rest), name);
    }
    names
}

/// Parses `/proc/kallsyms` (`address type name[\t[module]]`), keeping only text
/// symbols (types t and T): only those are functions a probe can attach to.
/// Addresses may be zeroed (kptr_restrict); presence and count still hold.
pub(crate) fn parse_kallsyms<'a>(text: &'a str, wanted: &'a HashSet<&'a str>) -> Names<'a> {
    let mut names = Names::new(wanted);
    for line in text.lines() {
        let Some((_addr, rest)) = line.split_once(' ') else {
            continue;
        };
        let Some((kind, rest)) = rest.split_once(' ') else {
            continue;
        };
        if kind != "t" && kind != "T" {
            continue;
        }
        let (name, module) = rest.split_once(['\t', ' ']).unwrap_or((rest, ""));
        names.add(module_of(module), name);
    }
    names
}

/// `[veth]` -> `veth`; nothing -> vmlinux.
fn module_of(field: &str) -> &str {
    field
        .trim()
        .strip_prefix('[')
        .and_then(|m| m.strip_suffix(']'))
        .unwrap_or(VMLINUX)
}

/// A list's text and where it came from, or why it cannot be had.
pub(crate) type Text<'a> = Result<(Cow<'a, str>, String), String>;

pub(crate) fn read(source: &SymbolSource) -> Text<'_> {
    match source {
        SymbolSource::Skip => Err("skipped".to_string()),
        SymbolSource::Text(text) => Ok((Cow::Borrowed(text.as_str()), "given text".to_string())),
        SymbolSource::Files(paths) => {
            read_first(paths).map(|(text, from)| (Cow::Owned(text), from))
        }
    }
}

/// Parses a list that [`read`] returned. An empty list is treated as unknown: it
/// would otherwise reject every function.
pub(crate) fn parse<'a>(
    read: &'a Text<'a>,
    wanted: &'a HashSet<&'a str>,
    parse: fn(&'a str, &'a HashSet<&'a str>) -> Names<'a>,
) -> (Option<Names<'a>>, Check) {
    match read {
        Err(why) => (None, Check::Unknown(why.clone())),
        Ok((text, from)) => {
            let names = parse(text, wanted);
            if !names.any {
                (None, Check::Unknown(format!("{from} lists no functions")))
            } else {
                (Some(names), Check::Checked(from.clone()))
            }
        }
    }
}

/// The first readable file, or why none was: a permission error says more than
/// "not found", so it wins.
fn read_first(paths: &[PathBuf]) -> Result<(String, String), String> {
    let mut why: Option<(bool, String)> = None;
    for path in paths {
        match fs::read_to_string(path) {
            Ok(text) => return Ok((text, path.display().to_string())),
            Err(e) => {
                let missing = e.kind() == ErrorKind::NotFound;
                let better = match &why {
                    None => true,
                    Some((was_missing, _)) => *was_missing && !missing,
                };
                if better {
                    why = Some((missing, format!("{}: {e}", path.display())));
                }
            }
        }
    }
    Err(why
        .map(|(_, w)| w)
        .unwrap_or_else(|| "no file given".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kallsyms_counts_text_symbols_per_module() {
        let text =
            "ffffffff81000000 T ip_rcv\n0000000000000000 t ip_rcv\nffffffff82000000 D ip_rcv\n\
                    ffffffffc0000000 t veth_xmit\t[veth]\nbad line\n";
        let wanted = HashSet::from(["ip_rcv", "veth_xmit"]);
        let names = parse_kallsyms(text, &wanted);
        assert_eq!(names.count(VMLINUX, "ip_rcv"), 2);
        assert_eq!(names.count("veth", "veth_xmit"), 1);
        assert_eq!(names.count(VMLINUX, "veth_xmit"), 0);
    }

    #[test]
    fn filter_functions_skip_invalid_placeholders() {
        let text = "ip_rcv\n__ftrace_invalid_address___84\nveth_xmit [veth]\n";
        let wanted = HashSet::from(["ip_rcv", "veth_xmit", "__ftrace_invalid_address___84"]);
        let names = parse_filter_functions(text, &wanted);
        assert_eq!(names.count(VMLINUX, "ip_rcv"), 1);
        assert_eq!(names.count("veth", "veth_xmit"), 1);
        assert_eq!(names.count(VMLINUX, "__ftrace_invalid_address___84"), 0);
    }

    #[test]
    fn unreadable_or_empty_lists_are_unknown() {
        let wanted = HashSet::new();
        let source = SymbolSource::Files(vec![PathBuf::from("/nonexistent")]);
        let missing = read(&source);
        assert!(matches!(
            parse(&missing, &wanted, parse_kallsyms),
            (None, Check::Unknown(_))
        ));
        let source = SymbolSource::Text(String::new());
        let empty = read(&source);
        assert!(matches!(
            parse(&empty, &wanted, parse_kallsyms),
            (None, Check::Unknown(_))
        ));
    }
}
