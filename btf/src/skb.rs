//! Finding the functions that take a `struct sk_buff *`, and the kind of each
//! argument and of the return value.

use std::collections::{HashMap, HashSet};

use btf_rs::{Btf, BtfType, Type, Typedef};
use serde::Serialize;

use crate::source::BtfObject;

/// What an argument or return value is, after seeing through const, volatile,
/// restrict, typedef and type tags. This is what the trampoline cares about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Void,
    Int,
    /// `_Bool` (an int to the trampoline; shown as true/false).
    Bool,
    Enum,
    Ptr,
    Float,
    /// A struct passed or returned by value.
    Struct,
    /// A union passed or returned by value.
    Union,
    /// Anything BTF allows that a C function cannot pass (array, function, forward declaration).
    Other,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Void => "void",
            Kind::Int => "int",
            Kind::Bool => "bool",
            Kind::Enum => "enum",
            Kind::Ptr => "ptr",
            Kind::Float => "float",
            Kind::Struct => "struct",
            Kind::Union => "union",
            Kind::Other => "other",
        }
    }
}

/// How a parameter refers to `struct sk_buff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SkbRef {
    /// `struct sk_buff *`, possibly const/volatile/typedef'd: what we trace.
    Ptr,
    /// `struct sk_buff **`: reported, but the tracer cannot read the packet from it.
    PtrPtr,
}

/// A FUNC that takes an skb, before traceability is decided.
pub(crate) struct Candidate {
    pub name: String,
    pub btf_id: u32,
    /// First `struct sk_buff *` parameter, or the first `struct sk_buff **` if there is none.
    pub skb_arg: usize,
    pub skb_ref: SkbRef,
    pub args: Vec<Kind>,
    /// Every `struct sk_buff *` parameter, by index.
    pub skb_args: Vec<usize>,
    /// Parameter names as BTF gives them ("" when unnamed).
    pub arg_names: Vec<String>,
    pub ret: Kind,
    /// The function returns a `struct sk_buff *`.
    pub returns_skb: bool,
    pub variadic: bool,
    /// False for the second and later FUNCs of this name in the same object.
    pub first_of_name: bool,
}

#[derive(Clone, Copy)]
enum Class {
    Kind(Kind),
    Skb(SkbRef),
}

/// Modifier and typedef chains longer than this are treated as corrupt (a loop).
const MAX_CHAIN: usize = 32;

struct Resolver<'a> {
    obj: &'a BtfObject,
    skb_ids: Vec<u32>,
    memo: HashMap<u32, Class>,
}

impl Resolver<'_> {
    fn ty(&self, id: u32) -> Result<Type, String> {
        self.obj
            .btf
            .resolve_type_by_id(id)
            .map_err(|e| format!("type {id}: {e}"))
    }

    fn strip(&self, id: u32) -> Result<(u32, Type), String> {
        strip_modifiers(&self.obj.btf, id, |_| {})
    }

    fn classify(&mut self, id: u32) -> Result<Class, String> {
        if let Some(c) = self.memo.get(&id) {
            return Ok(*c);
        }
        let (_, ty) = self.strip(id)?;
        let class = match &ty {
            Type::Void => Class::Kind(Kind::Void),
            Type::Int(i) if i.is_bool() => Class::Kind(Kind::Bool),
            Type::Int(_) => Class::Kind(Kind::Int),
            Type::Enum(_) | Type::Enum64(_) => Class::Kind(Kind::Enum),
            Type::Float(_) => Class::Kind(Kind::Float),
            Type::Struct(_) => Class::Kind(Kind::Struct),
            Type::Union(_) => Class::Kind(Kind::Union),
            Type::Ptr(p) => {
                let (target, ty) = self.strip(next(p, id)?)?;
                if self.skb_ids.contains(&target) {
                    Class::Skb(SkbRef::Ptr)
                } else if let Type::Ptr(pp) = &ty {
                    let (target, _) = self.strip(next(pp, id)?)?;
                    if self.skb_ids.contains(&target) {
                        Class::Skb(SkbRef::PtrPtr)
                    } else {
                        Class::Kind(Kind::Ptr)
                    }
                } else {
                    Class::Kind(Kind::Ptr)
                }
            }
            _ => Class::Kind(Kind::Other),
        };
        self.memo.insert(id, class);
        Ok(class)
    }
}

/// Follows const/volatile/restrict/typedef/type-tag to the underlying type,
/// showing each typedef on the way to `on_typedef`.
pub(crate) fn strip_modifiers(
    btf: &Btf,
    mut id: u32,
    mut on_typedef: impl FnMut(&Typedef),
) -> Result<(u32, Type), String> {
    for _ in 0..MAX_CHAIN {
        let ty = btf
            .resolve_type_by_id(id)
            .map_err(|e| format!("type {id}: {e}"))?;
        match &ty {
            Type::Const(t) | Type::Volatile(t) | Type::Restrict(t) => id = next(t, id)?,
            Type::Typedef(t) => {
                on_typedef(t);
                id = next(t, id)?
            }
            Type::TypeTag(t) => id = next(t, id)?,
            _ => return Ok((id, ty)),
        }
    }
    Err(format!(
        "type {id}: modifier chain longer than {MAX_CHAIN} (loop?)"
    ))
}

fn next(t: &dyn BtfType, id: u32) -> Result<u32, String> {
    t.get_type_id()
        .ok_or_else(|| format!("type {id}: reference without a target"))
}

/// Every FUNC defined in `obj` (not its base) with an skb pointer parameter.
/// An error here means the BTF is internally inconsistent (dangling ids, loops).
pub(crate) fn find(obj: &BtfObject) -> Result<Vec<Candidate>, String> {
    let skb_ids: Vec<u32> = obj
        .btf
        .resolve_ids_by_name("sk_buff")
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|&id| {
            matches!(
                obj.btf.resolve_type_by_id(id),
                Ok(Type::Struct(_) | Type::Fwd(_))
            )
        })
        .collect();
    // Decoding every type is most of the scan's CPU time: split vmlinux's ~150k
    // ids across the cores. Module objects are too small to be worth a thread.
    let (first, last) = obj.own_id_range();
    if last < first {
        return Ok(Vec::new()); // an object without types of its own
    }
    let threads = if last - first < PARALLEL_MIN_TYPES {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
    };
    let step = (last - first) / threads + 1;
    let parts: Vec<Result<Walk, String>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|i| {
                let (lo, hi) = (first + i * step, (first + (i + 1) * step - 1).min(last));
                let skb_ids = &skb_ids;
                s.spawn(move || walk(obj, skb_ids, lo, hi))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    // BTF deduplicates its strings, so FUNCs of one name share a name offset: the
    // first FUNC (lowest id) per offset is the one the kernel resolves the name to.
    let mut first_ids: HashMap<u32, u32> = HashMap::new();
    let mut found = Vec::new();
    for part in parts {
        let part = part?;
        for (name_off, id) in part.funcs {
            first_ids.entry(name_off).or_insert(id);
        }
        found.extend(part.candidates);
    }
    for (c, name_off) in found.iter_mut() {
        c.first_of_name = first_ids.get(name_off) == Some(&c.btf_id);
    }
    Ok(found.into_iter().map(|(c, _)| c).collect())
}

const PARALLEL_MIN_TYPES: u32 = 20_000;

/// One id range's findings: its skb candidates with their name offsets, and the
/// first FUNC id of every name offset it saw.
struct Walk {
    candidates: Vec<(Candidate, u32)>,
    funcs: Vec<(u32, u32)>,
}

fn walk(obj: &BtfObject, skb_ids: &[u32], first: u32, last: u32) -> Result<Walk, String> {
    let mut r = Resolver {
        obj,
        skb_ids: skb_ids.to_vec(),
        memo: HashMap::new(),
    };
    let mut found = Vec::new();
    let mut seen_names = HashSet::new();
    let mut funcs = Vec::new();
    for btf_id in first..=last {
        let Type::Func(func) = r.ty(btf_id)? else {
            continue;
        };
        let name_off = func.get_name_offset().unwrap_or(0);
        if seen_names.insert(name_off) {
            funcs.push((name_off, btf_id));
        }
        let Type::FuncProto(proto) = r.ty(next(&func, btf_id)?)? else {
            return Err(format!("FUNC {btf_id} does not point to a FUNC_PROTO"));
        };
        let mut args = Vec::with_capacity(proto.parameters.len());
        let mut skb_args = Vec::new();
        let mut arg_names = Vec::with_capacity(proto.parameters.len());
        let mut skb: Option<(usize, SkbRef)> = None;
        let mut variadic = false;
        for p in &proto.parameters {
            if p.is_variadic() {
                variadic = true;
                continue;
            }
            let class = r.classify(next(p, btf_id)?)?;
            let kind = match class {
                Class::Kind(k) => k,
                Class::Skb(s) => {
                    if s == SkbRef::Ptr {
                        skb_args.push(args.len());
                    }
                    // Prefer the first direct pointer; fall back to the first `**`.
                    match skb {
                        None | Some((_, SkbRef::PtrPtr)) if s == SkbRef::Ptr => {
                            skb = Some((args.len(), s))
                        }
                        None => skb = Some((args.len(), s)),
                        _ => {}
                    }
                    Kind::Ptr
                }
            };
            arg_names.push(obj.btf.resolve_name(p).unwrap_or_default());
            args.push(kind);
        }
        let Some((skb_arg, skb_ref)) = skb else {
            continue;
        };
        let (ret, returns_skb) = match r.classify(proto.return_type_id())? {
            Class::Kind(k) => (k, false),
            Class::Skb(s) => (Kind::Ptr, s == SkbRef::Ptr),
        };
        let name = obj
            .btf
            .resolve_name(&func)
            .map_err(|e| format!("FUNC {btf_id}: {e}"))?;
        found.push((
            Candidate {
                name,
                btf_id,
                skb_arg,
                skb_ref,
                args,
                skb_args,
                arg_names,
                ret,
                returns_skb,
                variadic,
                first_of_name: true,
            },
            name_off,
        ));
    }
    Ok(Walk {
        candidates: found,
        funcs,
    })
}
