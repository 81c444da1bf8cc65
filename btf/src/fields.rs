//! `--skb-fields`: where a named member of `struct sk_buff` (or of the
//! `struct skb_shared_info` behind it, for the GSO fields) lives in this
//! kernel, read from its BTF the way CO-RE relocations are: by name, never by
//! a layout compiled in.

use btf_rs::{Btf, BtfType, Type};

use crate::skb::strip_modifiers;
use crate::source::BtfObject;

/// The most fields one event can carry (`VRFT_MAX_FIELDS` in bpf/event.h).
pub const MAX_FIELDS: usize = 8;

/// Where one field is and how to turn the bytes read into its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkbField {
    /// As the user wrote it: "len", "gso_size", "shinfo.nr_frags".
    pub name: String,
    /// In `struct skb_shared_info` (at `skb->head + skb->end`) rather than `struct sk_buff`.
    pub shinfo: bool,
    /// Byte offset of the first byte to read.
    pub offset: u16,
    /// Bytes to read, 1 to 8.
    pub size: u8,
    /// Bitfields: the value is `(read >> shift) & mask(bits)`; `bits` is 64 otherwise.
    pub shift: u8,
    pub bits: u8,
    /// Stored in network order (`__be16`, `__be32`): shown in host order.
    pub big_endian: bool,
}

/// A member found by name, before it is checked to be a number.
struct Found {
    bit_offset: u32,
    bitfield: Option<u32>,
    type_id: u32,
}

/// Anonymous struct/union nesting followed when looking a name up.
const MAX_NESTING: usize = 8;

fn struct_members(btf: &Btf, id: u32) -> Option<Vec<btf_rs::Member>> {
    match btf.resolve_type_by_id(id).ok()? {
        Type::Struct(s) | Type::Union(s) => Some(s.members),
        _ => None,
    }
}

/// Finds `name` among the members of struct `id`, looking into anonymous
/// structs and unions (the kernel nests many skb fields in them).
fn find_member(btf: &Btf, id: u32, name: &str, base_bits: u32, depth: usize) -> Option<Found> {
    let members = struct_members(btf, id)?;
    for m in &members {
        if btf.resolve_name(m).ok().as_deref() == Some(name) {
            return Some(Found {
                bit_offset: base_bits + m.bit_offset(),
                bitfield: m.bitfield_size().filter(|&b| b != 0),
                type_id: m.get_type_id()?,
            });
        }
    }
    if depth >= MAX_NESTING {
        return None;
    }
    members.iter().find_map(|m| {
        let unnamed = btf.resolve_name(m).map_or(true, |n| n.is_empty());
        let ty = m.get_type_id()?;
        if unnamed {
            find_member(btf, ty, name, base_bits + m.bit_offset(), depth + 1)
        } else {
            None
        }
    })
}

/// Follows a dotted path ("headers.mark") from struct `id`.
fn find_path(btf: &Btf, id: u32, path: &str) -> Option<Found> {
    let mut found: Option<Found> = None;
    let mut cur = id;
    for part in path.split('.') {
        let base = found.as_ref().map_or(0, |f| f.bit_offset);
        let f = find_member(btf, cur, part, base, 0)?;
        cur = strip(btf, f.type_id).ok()?.0;
        found = Some(f);
    }
    found
}

/// Follows modifiers and typedefs; also says whether a typedef on the way
/// names a big-endian type.
fn strip(btf: &Btf, id: u32) -> Result<(u32, Type, bool), String> {
    let mut be = false;
    let (id, ty) = strip_modifiers(btf, id, |t| {
        be |= btf.resolve_name(t).is_ok_and(|n| n.starts_with("__be"))
    })?;
    Ok((id, ty, be))
}

fn struct_id(btf: &Btf, name: &str) -> Option<u32> {
    btf.resolve_ids_by_name(name)
        .ok()?
        .into_iter()
        .find(|&id| matches!(btf.resolve_type_by_id(id), Ok(Type::Struct(_))))
}

/// The fields the user named, resolved in `vmlinux`'s BTF. A name is looked up
/// in `struct sk_buff` first, then in `struct skb_shared_info`; `shinfo.NAME`
/// picks the latter explicitly, and dotted paths reach into named members.
pub fn resolve_skb_fields(vmlinux: &BtfObject, names: &[String]) -> Result<Vec<SkbField>, String> {
    if names.len() > MAX_FIELDS {
        return Err(format!(
            "--skb-fields takes at most {MAX_FIELDS} fields, got {}: drop some",
            names.len()
        ));
    }
    let btf = &vmlinux.btf;
    let skb = struct_id(btf, "sk_buff").ok_or("this kernel's BTF has no struct sk_buff")?;
    let shinfo = struct_id(btf, "skb_shared_info");
    names
        .iter()
        .map(|name| {
            let (path, in_shinfo) = match name.strip_prefix("shinfo.") {
                Some(rest) => (rest, true),
                None => (name.as_str(), false),
            };
            let found = if in_shinfo {
                None
            } else {
                find_path(btf, skb, path).map(|f| (f, false))
            };
            let found = found.or_else(|| Some((find_path(btf, shinfo?, path)?, true)));
            let Some((f, in_shinfo)) = found else {
                return Err(format!(
                    "unknown --skb-fields name '{name}': no such member of struct sk_buff or \
                     struct skb_shared_info in this kernel (e.g. len, data_len, mark, hash, \
                     protocol, priority, gso_size, gso_segs, gso_type, nr_frags)"
                ));
            };
            field(btf, name, f, in_shinfo)
        })
        .collect()
}

fn field(btf: &Btf, name: &str, f: Found, shinfo: bool) -> Result<SkbField, String> {
    let (_, ty, big_endian) = strip(btf, f.type_id)?;
    let bytes = match &ty {
        Type::Int(i) => i.size(),
        Type::Enum(e) => e.size(),
        Type::Enum64(e) => e.size(),
        Type::Ptr(_) => 8,
        other => {
            let kind = other.name();
            let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            };
            return Err(format!(
                "--skb-fields '{name}' is {article} {kind}, not a number: name one of its \
                 members (e.g. '{name}.MEMBER') or another field"
            ));
        }
    };
    let offset_of = |bits: u32| -> Result<u16, String> {
        u16::try_from(bits / 8).map_err(|_| format!("--skb-fields '{name}': offset out of range"))
    };
    Ok(match f.bitfield {
        Some(bits) => {
            let shift = f.bit_offset % 8;
            SkbField {
                name: name.to_string(),
                shinfo,
                offset: offset_of(f.bit_offset)?,
                size: (shift + bits).div_ceil(8) as u8,
                shift: shift as u8,
                bits: bits as u8,
                big_endian: false,
            }
        }
        None => {
            if !f.bit_offset.is_multiple_of(8) || !(1..=8).contains(&bytes) {
                return Err(format!(
                    "--skb-fields '{name}': a {bytes}-byte value at bit {} cannot be read",
                    f.bit_offset
                ));
            }
            SkbField {
                name: name.to_string(),
                shinfo,
                offset: offset_of(f.bit_offset)?,
                size: bytes as u8,
                shift: 0,
                bits: 64,
                big_endian: big_endian && bytes > 1,
            }
        }
    })
}
