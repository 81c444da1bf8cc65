//! BTF scanner: finds every kernel function that takes a `struct sk_buff *`, in
//! vmlinux and in modules (split BTF), and decides whether each can be probed.
//! See docs/btf.md.
//!
//! Everything the scan reads from the system is named in [`ScanOptions`], so tests
//! and benchmarks feed files instead.

mod denylist;
mod error;
mod fields;
mod kernel;
mod skb;
mod source;
mod symbols;
mod traceability;

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use serde::Serialize;

pub use denylist::{entries as denylist_entries, reason as denylist_reason};
pub use error::{Error, Result};
pub use fields::{resolve_skb_fields, SkbField, MAX_FIELDS};
pub use skb::Kind;
pub use source::{module_files, module_name, BtfObject, SYSFS_BTF_DIR, VMLINUX};
pub use symbols::{Check, SymbolSource, FILTER_FUNCTIONS_PATHS, KALLSYMS_PATH};
pub use traceability::{default_max_args, Reason, Traceability};

/// What to scan and what to check it against.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// vmlinux BTF: `/sys/kernel/btf/vmlinux`, a raw BTF file, or an ELF with `.BTF`.
    pub vmlinux: PathBuf,
    /// A directory of loaded modules' split BTF blobs (`/sys/kernel/btf`), if any.
    pub modules_dir: Option<PathBuf>,
    /// More module BTF: raw split blobs or `.ko` files. One of these replaces a
    /// loaded module of the same name.
    pub module_files: Vec<PathBuf>,
    pub checks: Checks,
}

impl ScanOptions {
    /// The running kernel: its sysfs BTF, loaded modules and symbol lists.
    pub fn system() -> Self {
        ScanOptions {
            vmlinux: PathBuf::from(SYSFS_BTF_DIR).join(VMLINUX),
            modules_dir: Some(PathBuf::from(SYSFS_BTF_DIR)),
            module_files: Vec::new(),
            checks: Checks::system(),
        }
    }
}

/// What the functions found are checked against.
#[derive(Clone, Debug)]
pub struct Checks {
    /// `available_filter_functions`: functions ftrace can patch.
    pub filter_functions: SymbolSource,
    /// `/proc/kallsyms`: which functions have an address, and how many.
    pub kallsyms: SymbolSource,
    /// The most arguments the BPF trampoline passes; see [`default_max_args`].
    pub max_args: usize,
}

impl Checks {
    /// The running kernel's lists and trampoline limit.
    pub fn system() -> Self {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        Checks {
            filter_functions: SymbolSource::Files(
                FILTER_FUNCTIONS_PATHS.iter().map(PathBuf::from).collect(),
            ),
            kallsyms: SymbolSource::Files(vec![PathBuf::from(KALLSYMS_PATH)]),
            max_args: default_max_args(&release),
        }
    }

    /// No symbol lists (BTF of another kernel), the given trampoline limit.
    pub fn none(max_args: usize) -> Self {
        Checks {
            filter_functions: SymbolSource::Skip,
            kallsyms: SymbolSource::Skip,
            max_args,
        }
    }
}

/// One function that takes an skb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    /// "vmlinux" or the module name: also the name of the kernel BTF object
    /// (`/sys/kernel/btf/<module>`) whose fd the tracer passes when attaching.
    pub module: String,
    /// Id of the FUNC in its object's BTF (split ids continue after vmlinux's).
    pub btf_id: u32,
    /// Index (0-based) of the first `struct sk_buff *` parameter.
    pub skb_arg: usize,
    /// Kinds of the named parameters, in order (varargs not included).
    pub args: Vec<Kind>,
    /// Every `struct sk_buff *` parameter, by index (`skb_arg` is the first).
    pub skb_args: Vec<usize>,
    /// Parameter names as BTF gives them ("" when unnamed).
    pub arg_names: Vec<String>,
    pub ret: Kind,
    /// The function returns a `struct sk_buff *`.
    pub returns_skb: bool,
    pub variadic: bool,
    pub traceability: Traceability,
}

impl Function {
    pub fn nargs(&self) -> usize {
        self.args.len()
    }
}

/// A BTF object that was scanned.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectInfo {
    pub name: String,
    pub path: PathBuf,
    /// How many skb functions it defines.
    pub functions: usize,
}

/// The result of a scan, sorted by function name, then module.
#[derive(Clone, Debug)]
pub struct Scan {
    pub functions: Vec<Function>,
    pub objects: Vec<ObjectInfo>,
    /// Whether `available_filter_functions` could be checked.
    pub filter_functions: Check,
    /// Whether `/proc/kallsyms` could be checked.
    pub kallsyms: Check,
    pub max_args: usize,
}

impl Scan {
    pub fn traceable(&self) -> impl Iterator<Item = &Function> {
        self.functions
            .iter()
            .filter(|f| f.traceability.is_traceable())
    }

    /// How many functions each reason rejected.
    pub fn rejected_by_reason(&self) -> BTreeMap<Reason, usize> {
        let mut counts = BTreeMap::new();
        for r in self
            .functions
            .iter()
            .filter_map(|f| f.traceability.reason())
        {
            *counts.entry(r).or_insert(0) += 1;
        }
        counts
    }
}

/// Reads vmlinux and module BTF and finds every skb function in them.
pub fn scan(opts: &ScanOptions) -> Result<Scan> {
    // Module name -> file; a file given explicitly replaces the loaded module's blob.
    let mut module_paths = BTreeMap::new();
    if let Some(dir) = &opts.modules_dir {
        for path in module_files(dir)? {
            module_paths.insert(module_name(&path), path);
        }
    }
    for path in &opts.module_files {
        module_paths.insert(module_name(path), path.clone());
    }

    // Reading /proc/kallsyms costs the kernel tens of milliseconds: let it run
    // while the BTF is parsed and walked.
    let (filter_text, kallsyms_text, found) = std::thread::scope(|s| {
        let filter = s.spawn(|| symbols::read(&opts.checks.filter_functions));
        let kallsyms = s.spawn(|| symbols::read(&opts.checks.kallsyms));
        let found = BtfObject::vmlinux_from_file(&opts.vmlinux).and_then(|vmlinux| {
            let modules = load_modules(module_paths.into_values().collect(), &vmlinux)?;
            find_all(std::iter::once(&vmlinux).chain(&modules))
        });
        (join(filter), join(kallsyms), found)
    });
    Ok(decide_all(
        found?,
        &filter_text,
        &kallsyms_text,
        opts.checks.max_args,
    ))
}

/// [`scan`] over objects already parsed (e.g. to scan one module's BTF alone).
pub fn scan_objects(objects: &[&BtfObject], checks: &Checks) -> Result<Scan> {
    let found = find_all(objects.iter().copied())?;
    let filter_text = symbols::read(&checks.filter_functions);
    let kallsyms_text = symbols::read(&checks.kallsyms);
    Ok(decide_all(
        found,
        &filter_text,
        &kallsyms_text,
        checks.max_args,
    ))
}

fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))
}

type Found = (Vec<ObjectInfo>, Vec<(String, skb::Candidate)>);

/// Collects every object's skb functions, tagged with the object's name.
fn find_all<'a>(objects: impl Iterator<Item = &'a BtfObject>) -> Result<Found> {
    let mut infos = Vec::new();
    let mut candidates = Vec::new();
    for obj in objects {
        let found = skb::find(obj).map_err(|detail| obj.inconsistent(detail))?;
        infos.push(ObjectInfo {
            name: obj.name.clone(),
            path: obj.path.clone(),
            functions: found.len(),
        });
        candidates.extend(found.into_iter().map(|c| (obj.name.clone(), c)));
    }
    Ok((infos, candidates))
}

fn decide_all(
    found: Found,
    filter_text: &symbols::Text,
    kallsyms_text: &symbols::Text,
    max_args: usize,
) -> Scan {
    let (objects, candidates) = found;
    let wanted: HashSet<&str> = candidates.iter().map(|(_, c)| c.name.as_str()).collect();
    let (filter_functions, filter_check) =
        symbols::parse(filter_text, &wanted, symbols::parse_filter_functions);
    let (kallsyms, kallsyms_check) =
        symbols::parse(kallsyms_text, &wanted, symbols::parse_kallsyms);
    let cx = traceability::Context {
        max_args,
        filter_functions: filter_functions.as_ref(),
        kallsyms: kallsyms.as_ref(),
    };
    let mut functions: Vec<Function> = candidates
        .iter()
        .map(|(module, c)| Function {
            traceability: traceability::decide(c, module, &cx),
            name: c.name.clone(),
            module: module.clone(),
            btf_id: c.btf_id,
            skb_arg: c.skb_arg,
            args: c.args.clone(),
            skb_args: c.skb_args.clone(),
            arg_names: c.arg_names.clone(),
            ret: c.ret,
            returns_skb: c.returns_skb,
            variadic: c.variadic,
        })
        .collect();
    functions.sort_by(|a, b| (&a.name, &a.module, a.btf_id).cmp(&(&b.name, &b.module, b.btf_id)));
    Scan {
        functions,
        objects,
        filter_functions: filter_check,
        kallsyms: kallsyms_check,
        max_args,
    }
}

/// Module BTF blobs are independent once vmlinux is parsed: parse them on all cores.
fn load_modules(paths: Vec<PathBuf>, vmlinux: &BtfObject) -> Result<Vec<BtfObject>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len().max(1));
    let chunk = paths.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = paths
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .map(|p| BtfObject::module_from_file(p, vmlinux))
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        let mut modules = Vec::with_capacity(paths.len());
        for w in workers {
            modules.extend(w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?);
        }
        Ok(modules)
    })
}
