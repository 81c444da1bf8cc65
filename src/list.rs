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
STATUS is `traceable` or a reason code; docs/btf.md explains each code.
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
        .filter(|f| args.module.as_ref().map_or(true, |m| &f.module == m))
        .filter(|f| filter.as_ref().map_or(true, |re| re.is_match(&f.name)))
        .collect();

    match print(args, &scan, &selected) {
        // `vrft-tui list | head` closes the pipe early: that is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write the list to stdout"),
    }
}

fn print(args: &ListArgs, scan: &Scan, selected: &[&Function]) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    let shown: Vec<&Function> = selected
        .iter()
        .copied()
        .filter(|f| args.all || f.traceability.is_traceable())
        .collect();
    if args.json {
        for f in &shown {
            writeln!(out, "{}", json_line(f))?;
        }
        out.flush()?;
        eprintln!("{}", summary(args, scan, selected));
        return Ok(());
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
    writeln!(out, "{}", summary(args, scan, selected))?;
    out.flush()
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
