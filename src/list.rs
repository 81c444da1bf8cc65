//! `vrft-tui list`: print the kernel functions that take an skb, and whether each
//! can be traced (like `ipftrace2 -l`).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use regex::Regex;
use serde_json::json;
use vrft_btf::{Check, Checks, Function, Scan, ScanOptions, Traceability};

#[derive(Args, Debug)]
#[command(after_help = "\
Without --all only traceable functions are printed; the summary line still counts the rejected ones by reason.
STATUS is `traceable` or a reason code; docs/btf.md explains each code. Before Linux 5.11 modules have no BTF:
a line on stderr names the loaded modules whose functions cannot be traced.
Lists that cannot be read (available_filter_functions needs root and tracefs) are reported as not checked,
and reject nothing.")]
pub struct ListArgs {
    /// Only functions whose name matches this regular expression (e.g. '^tcp_v4').
    #[arg(value_name = "REGEX")]
    pub regex: Option<String>,

    /// Only functions of this module ("vmlinux" for the core kernel).
    #[arg(long, value_name = "NAME")]
    pub module: Option<String>,

    /// Also print functions that cannot be traced, with the reason code (default: traceable only).
    #[arg(long)]
    pub all: bool,

    /// One JSON object per line per function (name, module, btf_id, skb_arg, nargs, args, ret,
    /// status, reason), for scripts. The summary goes to stderr.
    #[arg(long)]
    pub json: bool,

    /// vmlinux BTF to read instead of /sys/kernel/btf/vmlinux: a raw BTF blob or an ELF vmlinux
    /// with a .BTF section. Loaded modules are then not read, and the running kernel's symbol
    /// lists are not checked (they belong to another kernel).
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,

    /// Module BTF to add: a raw split BTF blob or a .ko file, e.g. of a module that is not loaded.
    /// Repeatable; replaces a loaded module of the same name.
    #[arg(long = "module-btf", value_name = "FILE", num_args = 1.., action = clap::ArgAction::Append)]
    pub module_btf: Vec<PathBuf>,

    /// Most arguments the BPF trampoline passes. Default from the running kernel: 6 before
    /// Linux 6.6 on x86-64, 12 from 6.6 on.
    #[arg(long, value_name = "N")]
    pub max_args: Option<usize>,
}

pub fn run(args: &ListArgs) -> Result<()> {
    let filter = match &args.regex {
        Some(re) => Some(Regex::new(re).map_err(|e| {
            // The regex crate draws a multi-line diagram; its last line says what is wrong.
            let text = e.to_string();
            let what = text
                .lines()
                .last()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_string();
            anyhow::anyhow!("invalid REGEX {re:?}: {what}; use Rust regex syntax, e.g. '^tcp_v4'")
        })?),
        None => None,
    };
    let mut opts = ScanOptions::system();
    if let Some(btf) = &args.btf {
        opts.vmlinux = btf.clone();
        opts.modules_dir = None;
        opts.checks = Checks::none(opts.checks.max_args);
    }
    opts.module_files = args.module_btf.clone();
    if let Some(n) = args.max_args {
        opts.checks.max_args = n;
    }
    let scan = vrft_btf::scan(&opts)?;

    if let Some(module) = &args.module {
        if !scan.objects.iter().any(|o| &o.name == module) {
            bail!(
                "no BTF for module {module}: it is not loaded (see /sys/kernel/btf); \
                 pass its .ko with --module-btf FILE"
            );
        }
    }
    let selected: Vec<&Function> = scan
        .functions
        .iter()
        .filter(|f| args.module.as_ref().is_none_or(|m| &f.module == m))
        .filter(|f| filter.as_ref().is_none_or(|re| re.is_match(&f.name)))
        .collect();

    // Modules the scan could not see at all: say so, on stderr beside the table.
    if args.btf.is_none() {
        if let Some(gap) = vrft_tracer::features::module_btf_gap() {
            eprintln!("{gap}");
        }
    }
    let mut out = BufWriter::new(io::stdout().lock());
    match print(args, &scan, &selected, &mut out, &mut io::stderr()).and_then(|()| out.flush()) {
        // `vrft-tui list | head` closes the pipe early: that is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the list to stdout"),
    }
}

/// The table (or JSON lines) to `out`; with `--json` the summary goes to `err`.
fn print(
    args: &ListArgs,
    scan: &Scan,
    selected: &[&Function],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<()> {
    let shown: Vec<&Function> = selected
        .iter()
        .copied()
        .filter(|f| args.all || f.traceability.is_traceable())
        .collect();
    if args.json {
        for f in &shown {
            writeln!(out, "{}", json_line(f))?;
        }
        return writeln!(err, "{}", summary(args, scan, selected));
    }
    let name_w = shown.iter().map(|f| f.name.len()).max().unwrap_or(0).max(4);
    let module_w = shown
        .iter()
        .map(|f| f.module.len())
        .max()
        .unwrap_or(0)
        .max(6);
    writeln!(
        out,
        "{:name_w$}  {:module_w$}  SKB_ARG  NARGS  STATUS",
        "NAME", "MODULE"
    )?;
    for f in &shown {
        writeln!(
            out,
            "{:name_w$}  {:module_w$}  {:>7}  {:>5}  {}",
            f.name,
            f.module,
            f.skb_arg,
            f.nargs(),
            f.traceability.code()
        )?;
    }
    writeln!(out, "{}", summary(args, scan, selected))
}

fn json_line(f: &Function) -> serde_json::Value {
    let reason = match f.traceability {
        Traceability::Traceable => None,
        Traceability::Rejected(r) => Some(match vrft_btf::denylist_reason(&f.name) {
            Some(why) if r == vrft_btf::Reason::Denylisted => format!("{}: {why}", r.message()),
            _ => r.message().to_string(),
        }),
    };
    json!({
        "name": f.name,
        "module": f.module,
        "btf_id": f.btf_id,
        "skb_arg": f.skb_arg,
        "nargs": f.nargs(),
        "args": f.args,
        "variadic": f.variadic,
        "ret": f.ret,
        "status": f.traceability.code(),
        "reason": reason,
    })
}

/// `found N / traceable N / rejected N (code=count ...)`, then what was not checked.
fn summary(args: &ListArgs, scan: &Scan, selected: &[&Function]) -> String {
    let traceable = selected
        .iter()
        .filter(|f| f.traceability.is_traceable())
        .count();
    let mut by_reason = std::collections::BTreeMap::new();
    for r in selected.iter().filter_map(|f| f.traceability.reason()) {
        *by_reason.entry(r).or_insert(0usize) += 1;
    }
    let reasons: Vec<String> = by_reason
        .iter()
        .map(|(r, n)| format!("{}={n}", r.code()))
        .collect();
    let mut line = format!(
        "found {} / traceable {} / rejected {} ({}) / trampoline max {} args",
        selected.len(),
        traceable,
        selected.len() - traceable,
        if reasons.is_empty() {
            "none".to_string()
        } else {
            reasons.join(" ")
        },
        scan.max_args,
    );
    let unchecked: Vec<String> = [
        ("available_filter_functions", &scan.filter_functions),
        ("kallsyms", &scan.kallsyms),
    ]
    .into_iter()
    .filter_map(|(what, check)| match check {
        Check::Checked(_) => None,
        Check::Unknown(_) if args.btf.is_some() => {
            Some(format!("{what} (--btf is not the running kernel)"))
        }
        Check::Unknown(why) => Some(format!("{what} ({why})")),
    })
    .collect();
    if !unchecked.is_empty() {
        line.push_str(&format!(
            "\nnot checked, so nothing was rejected for it: {}",
            unchecked.join("; ")
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(all: bool, json: bool) -> ListArgs {
        ListArgs {
            regex: None,
            module: None,
            all,
            json,
            btf: None,
            module_btf: Vec::new(),
            max_args: None,
        }
    }

    fn render(args: &ListArgs, scan: &Scan) -> (String, String) {
        let selected: Vec<&Function> = scan.functions.iter().collect();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        print(args, scan, &selected, &mut out, &mut err).unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    }

    /// `list --all` prints every function the scanner found (which btf/tests
    /// compare with an independent BTF walk), sorted, then the summary.
    #[test]
    fn all_prints_one_row_per_function_then_the_summary() {
        let scan = vrft_btf::scan(&ScanOptions::system()).unwrap();
        let (out, _) = render(&args(true, false), &scan);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAME") && lines[0].ends_with("SKB_ARG  NARGS  STATUS"));
        let rows = &lines[1..=scan.functions.len()];
        let names: Vec<&str> = rows
            .iter()
            .map(|r| r.split_whitespace().next().unwrap())
            .collect();
        assert!(names.windows(2).all(|w| w[0] <= w[1]), "sorted by name");
        let summary = lines[scan.functions.len() + 1];
        let traceable = scan.traceable().count();
        assert!(
            summary.starts_with(&format!(
                "found {} / traceable {traceable} / rejected",
                scan.functions.len()
            )),
            "{summary}"
        );
        assert!(summary.contains("denylisted="), "{summary}");
        // available_filter_functions is unreadable on the build machine: said, not hidden.
        if !matches!(scan.filter_functions, Check::Checked(_)) {
            assert!(out.contains(
                "not checked, so nothing was rejected for it: available_filter_functions"
            ));
        }
    }

    #[test]
    fn default_shows_traceable_only() {
        let scan = vrft_btf::scan(&ScanOptions::system()).unwrap();
        let (out, _) = render(&args(false, false), &scan);
        let rows = out.lines().skip(1).take_while(|l| !l.starts_with("found "));
        let statuses: Vec<&str> = rows.map(|r| r.split_whitespace().last().unwrap()).collect();
        assert_eq!(statuses.len(), scan.traceable().count());
        assert!(statuses.iter().all(|s| *s == "traceable"));
    }

    #[test]
    fn json_is_one_object_per_function() {
        let scan = vrft_btf::scan(&ScanOptions::system()).unwrap();
        let (out, err) = render(&args(true, true), &scan);
        let objs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objs.len(), scan.functions.len());
        let denied = objs
            .iter()
            .find(|o| o["status"] == "denylisted")
            .expect("a denylisted function");
        assert!(
            denied["reason"].as_str().unwrap().contains("tracepoint"),
            "{denied}"
        );
        let ok = objs.iter().find(|o| o["name"] == "ip_rcv").unwrap();
        assert_eq!(ok["status"], "traceable");
        assert_eq!(ok["skb_arg"], 0);
        assert_eq!(ok["args"][0], "ptr");
        assert!(ok["reason"].is_null());
        assert!(err.starts_with("found "), "summary on stderr: {err}");
    }
}
