//! Trivial BPF programs (`r0 = IMM; exit`) and their links: the floor that any probe costs,
//! whatever it does. The attach benchmark's serial loop (bench.rs) and the per-hit benchmark
//! (bench_hits.rs) both measure vrft-tui against these.

use std::collections::BTreeSet;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};

/// A fresh fd, or the errno of a negative syscall result.
fn fd_or_errno(fd: i32) -> Result<OwnedFd, i32> {
    if fd < 0 {
        Err(-fd)
    } else {
        // SAFETY: a fresh fd nothing else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Loads `r0 = ret; exit` as a program of `prog_type` for `attach_type` (and, for tracing
/// programs, the function `btf_id` of BTF object `obj_fd`, 0 for vmlinux).
pub fn load(
    prog_type: libbpf_sys::bpf_prog_type,
    attach_type: libbpf_sys::bpf_attach_type,
    btf_id: u32,
    obj_fd: i32,
    name: &CStr,
    ret: i32,
) -> Result<OwnedFd, i32> {
    let insn = |code: u8, imm: i32| libbpf_sys::bpf_insn {
        code,
        _bitfield_align_1: [],
        _bitfield_1: Default::default(), // dst_reg = src_reg = r0
        off: 0,
        imm,
    };
    // BPF_ALU64 | BPF_MOV | BPF_K, BPF_JMP | BPF_EXIT
    let insns = [insn(0xb7, ret), insn(0x95, 0)];
    let mut opts = libbpf_sys::bpf_prog_load_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_prog_load_opts>() as _,
        expected_attach_type: attach_type,
        attach_btf_id: btf_id,
        attach_btf_obj_fd: obj_fd as u32,
        ..Default::default()
    };
    // SAFETY: the instructions and options live across the call.
    fd_or_errno(unsafe {
        libbpf_sys::bpf_prog_load(
            prog_type,
            name.as_ptr(),
            c"GPL".as_ptr(),
            insns.as_ptr(),
            insns.len() as _,
            &mut opts,
        )
    })
}

/// Trivial fentry and fexit programs for one function (`btf_id` of BTF object `obj_fd`).
pub fn load_fentry_pair(btf_id: u32, obj_fd: i32) -> Result<[OwnedFd; 2], i32> {
    let tracing = libbpf_sys::BPF_PROG_TYPE_TRACING;
    let entry = load(tracing, FENTRY_PAIR[0], btf_id, obj_fd, c"triv_fentry", 0)?;
    let exit = load(tracing, FENTRY_PAIR[1], btf_id, obj_fd, c"triv_fexit", 0)?;
    Ok([entry, exit])
}

/// Both links of a pair from [`load_fentry_pair`], or neither (as vrft-tui does).
pub fn attach_fentry_pair(progs: &[OwnedFd; 2]) -> Result<[OwnedFd; 2], i32> {
    let entry = attach(&progs[0], FENTRY_PAIR[0])?;
    Ok([entry, attach(&progs[1], FENTRY_PAIR[1])?])
}

const FENTRY_PAIR: [libbpf_sys::bpf_attach_type; 2] =
    [libbpf_sys::BPF_TRACE_FENTRY, libbpf_sys::BPF_TRACE_FEXIT];

/// Links a tracing program to the function it was loaded for.
fn attach(prog: &OwnedFd, attach_type: libbpf_sys::bpf_attach_type) -> Result<OwnedFd, i32> {
    // SAFETY: a valid program fd; no options.
    fd_or_errno(unsafe {
        libbpf_sys::bpf_link_create(prog.as_raw_fd(), 0, attach_type, std::ptr::null())
    })
}

/// One kprobe.multi (or kprobe session) link of `prog` on every function in `syms`.
pub fn attach_kprobe_multi(
    prog: &OwnedFd,
    attach_type: libbpf_sys::bpf_attach_type,
    syms: &[CString],
    flags: u32,
) -> Result<OwnedFd, i32> {
    let ptrs: Vec<*const libc::c_char> = syms.iter().map(|s| s.as_ptr()).collect();
    let mut opts = libbpf_sys::bpf_link_create_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_link_create_opts>() as _,
        ..Default::default()
    };
    opts.__bindgen_anon_1.kprobe_multi.syms = ptrs.as_ptr() as *mut _;
    opts.__bindgen_anon_1.kprobe_multi.cnt = ptrs.len() as u32;
    opts.__bindgen_anon_1.kprobe_multi.flags = flags;
    // SAFETY: the name array lives across the call; the kernel copies it.
    fd_or_errno(unsafe { libbpf_sys::bpf_link_create(prog.as_raw_fd(), 0, attach_type, &opts) })
}

// ---- `vm trafgen trivial-probes`: trivial programs on many functions, held ----

#[derive(Parser)]
#[command(
    name = "vm trafgen trivial-probes",
    about = "Attach trivial programs to every traceable skb function and hold them"
)]
struct TrivialArgs {
    #[arg(long, value_enum)]
    kind: Kind,
    /// Only functions whose name matches this regex.
    #[arg(long)]
    funcs: Option<String>,
    /// Created once everything is attached.
    #[arg(long)]
    ready: PathBuf,
    /// The links are released once this file exists.
    #[arg(long)]
    until: PathBuf,
    /// Before releasing (fentry): write a regex of the functions whose programs ran to this
    /// file, and their run counts to FILE.list. Run counts need kernel.bpf_stats_enabled=1.
    #[arg(long)]
    hits: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Kind {
    /// One fentry and one fexit program per function.
    Fentry,
    /// One kprobe.multi and one kretprobe.multi link over all functions.
    KprobeMulti,
    /// One kprobe session link, returning 0 at entry: the return probe runs too.
    Session,
    /// One kprobe session link, returning 1 at entry: no return probe.
    SessionEntry,
    /// One fsession program per BTF object on all its functions, through the tracing
    /// multi-link (7.2+): entry and exit both run.
    FsessionMulti,
}

/// Trivial programs and their links.
struct Held {
    /// Fentry: each function's programs, to read their run counts.
    funcs: Vec<(String, [OwnedFd; 2])>,
    progs: Vec<OwnedFd>,
    links: Vec<OwnedFd>,
}

fn errno(what: &str, e: i32) -> String {
    format!("{what}: {}", std::io::Error::from_raw_os_error(e))
}

/// `vm trafgen trivial-probes ...`: attach, wait, report what ran, release.
pub fn trivial_probes(args: &[String]) -> i32 {
    let args = TrivialArgs::parse_from(
        std::iter::once("trivial-probes".to_string()).chain(args.iter().cloned()),
    );
    match hold(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("trivial-probes: {e}");
            1
        }
    }
}

fn hold(args: &TrivialArgs) -> Result<(), String> {
    let scan = vrft_btf::scan(&vrft_btf::ScanOptions::system()).map_err(|e| format!("{e:#}"))?;
    let re = args
        .funcs
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .map_err(|e| e.to_string())?;
    let targets: Vec<&vrft_btf::Function> = scan
        .traceable()
        .filter(|f| re.as_ref().is_none_or(|r| r.is_match(&f.name)))
        .collect();
    vrft_tui::tracer::raise_nofile(targets.len() as u64 * 4 + 1024);
    let t = Instant::now();
    let held = match args.kind {
        Kind::Fentry => fentry(&targets)?,
        Kind::FsessionMulti => fsession_multi(&targets)?,
        kind => kprobe(kind, &targets)?,
    };
    println!(
        "trivial {}: {} candidates, {} attached; {} programs, {} links in {:.1} s",
        args.kind.to_possible_value().expect("named").get_name(),
        targets.len(),
        if args.kind == Kind::Fentry {
            held.funcs.len()
        } else {
            targets.len()
        },
        held.progs.len() + held.funcs.len() * 2,
        held.links.len(),
        t.elapsed().as_secs_f64()
    );
    std::fs::write(&args.ready, "").map_err(|e| e.to_string())?;
    while !args.until.exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Some(path) = &args.hits {
        write_hits(&held, path)?;
    }
    let n = held.links.len();
    let t = Instant::now();
    drop(held);
    println!("released {n} links in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn fentry(targets: &[&vrft_btf::Function]) -> Result<Held, String> {
    let modules = vrft_tui::tracer::module_btf::module_btf_fds().map_err(|e| format!("{e:#}"))?;
    let obj = |m: &str| modules.get(m).map_or(0, |f| f.as_raw_fd());
    let mut held = Held {
        funcs: Vec::new(),
        progs: Vec::new(),
        links: Vec::new(),
    };
    let (mut load_failed, mut attach_failed) = (0, 0);
    for f in targets {
        let Ok(progs) = load_fentry_pair(f.btf_id, obj(&f.module)) else {
            load_failed += 1;
            continue;
        };
        match attach_fentry_pair(&progs) {
            Ok(links) => {
                held.links.extend(links);
                held.funcs.push((f.name.clone(), progs));
            }
            Err(_) => attach_failed += 1,
        }
    }
    println!("trivial fentry: {load_failed} functions failed to load, {attach_failed} to attach");
    Ok(held)
}

fn kprobe(kind: Kind, targets: &[&vrft_btf::Function]) -> Result<Held, String> {
    let names: Vec<CString> = targets
        .iter()
        .map(|f| CString::new(f.name.as_str()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let load = |attach: libbpf_sys::bpf_attach_type, name: &std::ffi::CStr, ret: i32| {
        load(libbpf_sys::BPF_PROG_TYPE_KPROBE, attach, 0, 0, name, ret)
            .map_err(|e| errno("load", e))
    };
    let link = |prog: &OwnedFd, attach: libbpf_sys::bpf_attach_type, flags: u32| {
        attach_kprobe_multi(prog, attach, &names, flags).map_err(|e| errno("kprobe.multi link", e))
    };
    let (multi, session) = (
        libbpf_sys::BPF_TRACE_KPROBE_MULTI,
        libbpf_sys::BPF_TRACE_KPROBE_SESSION,
    );
    let mut held = Held {
        funcs: Vec::new(),
        progs: Vec::new(),
        links: Vec::new(),
    };
    match kind {
        Kind::KprobeMulti => {
            let e = load(multi, c"triv_kmulti", 0)?;
            let x = load(multi, c"triv_kretmulti", 0)?;
            held.links.push(link(&e, multi, 0)?);
            held.links
                .push(link(&x, multi, libbpf_sys::BPF_F_KPROBE_MULTI_RETURN)?);
            held.progs.extend([e, x]);
        }
        Kind::Session | Kind::SessionEntry => {
            let (name, ret) = if kind == Kind::Session {
                (c"triv_session", 0)
            } else {
                (c"triv_sess_entry", 1)
            };
            let p = load(session, name, ret)?;
            held.links.push(link(&p, session, 0)?);
            held.progs.push(p);
        }
        Kind::Fentry | Kind::FsessionMulti => unreachable!("handled apart"),
    }
    Ok(held)
}

fn fsession_multi(targets: &[&vrft_btf::Function]) -> Result<Held, String> {
    use vrft_tui::tracer::backend::fsession::{link_functions, BPF_TRACE_FSESSION_MULTI};
    let modules = vrft_tui::tracer::module_btf::module_btf_fds().map_err(|e| format!("{e:#}"))?;
    let mut by_object: Vec<(&str, Vec<(u32, u64)>)> = Vec::new();
    for f in targets {
        let func = (f.btf_id, 0);
        match by_object.iter_mut().find(|(m, _)| *m == f.module) {
            Some((_, funcs)) => funcs.push(func),
            None => by_object.push((&f.module, vec![func])),
        }
    }
    let mut held = Held {
        funcs: Vec::new(),
        progs: Vec::new(),
        links: Vec::new(),
    };
    let mut refused = 0;
    for (module, funcs) in by_object {
        let obj = modules.get(module).map_or(0, |f| f.as_raw_fd());
        let tracing = libbpf_sys::BPF_PROG_TYPE_TRACING;
        let prog = load(
            tracing,
            BPF_TRACE_FSESSION_MULTI,
            0,
            obj,
            c"triv_fsession",
            0,
        )
        .map_err(|e| errno("load", e))?;
        let links = link_functions(prog.as_raw_fd(), &funcs);
        refused += links.refused.len();
        held.links.extend(links.fds);
        held.progs.push(prog);
    }
    println!("trivial fsession-multi: {refused} functions refused");
    Ok(held)
}

/// The functions whose trivial programs ran: a `--funcs` regex, and the run counts.
fn write_hits(held: &Held, path: &PathBuf) -> Result<(), String> {
    let mut ran: Vec<(u64, &str)> = held
        .funcs
        .iter()
        .map(|(name, progs)| {
            let runs = progs
                .iter()
                .filter_map(|p| vrft_tui::tracer::prog_info(p.as_raw_fd()))
                .map(|i| i.run_cnt)
                .sum();
            (runs, name.as_str())
        })
        .filter(|(runs, _)| *runs > 0)
        .collect();
    ran.sort_by(|a, b| b.cmp(a));
    if ran.is_empty() {
        return Err("no trivial program ran: were BPF statistics on during the flood?".into());
    }
    let names: BTreeSet<&str> = ran.iter().map(|(_, n)| *n).collect();
    let escaped: Vec<String> = names.iter().map(|n| regex::escape(n)).collect();
    let regex = format!("^({})$", escaped.join("|"));
    let list: String = ran.iter().map(|(r, n)| format!("{r} {n}\n")).collect();
    let mut list_path = path.clone().into_os_string();
    list_path.push(".list");
    std::fs::write(path, regex).map_err(|e| e.to_string())?;
    std::fs::write(list_path, list).map_err(|e| e.to_string())
}
