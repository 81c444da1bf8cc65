//! A deliberately small BTF reader, independent of btf-rs and of the scanner, to
//! count skb functions the plain way: every FUNC whose FUNC_PROTO has a parameter
//! that is (through CONST/VOLATILE/RESTRICT/TYPEDEF/TYPE_TAG) a PTR to the struct
//! named "sk_buff". Little-endian only, no validation: fed only real BTF.

use std::collections::BTreeSet;

const PTR: u32 = 2;
const STRUCT: u32 = 4;
const FWD: u32 = 7;
const FUNC: u32 = 12;
const MODIFIERS: [u32; 5] = [8, 9, 10, 11, 18]; // typedef, volatile, const, restrict, type_tag

struct Ty {
    kind: u32,
    name_off: u32,
    /// size or referenced type id
    size_type: u32,
    /// FUNC_PROTO parameter type ids (0 = varargs)
    params: Vec<u32>,
}

/// One BTF object; a split object continues the base's type ids and string offsets.
pub struct Raw {
    types: Vec<Ty>, // index = type id - first_id
    first_id: u32,
    strings: Vec<u8>,
    str_base: u32,
    base: Option<Box<Raw>>,
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

impl Raw {
    pub fn parse(data: &[u8], base: Option<Raw>) -> Raw {
        assert_eq!(&data[0..2], &[0x9f, 0xeb], "little-endian BTF magic");
        let hdr_len = u32_at(data, 4) as usize;
        let (type_off, type_len) = (u32_at(data, 8) as usize, u32_at(data, 12) as usize);
        let (str_off, str_len) = (u32_at(data, 16) as usize, u32_at(data, 20) as usize);
        let types_bytes = &data[hdr_len + type_off..hdr_len + type_off + type_len];
        let strings = data[hdr_len + str_off..hdr_len + str_off + str_len].to_vec();
        let (first_id, str_base) = match &base {
            Some(b) => (
                b.first_id + b.types.len() as u32,
                b.str_base + b.strings.len() as u32,
            ),
            None => (1, 0),
        };
        let mut types = Vec::new();
        let mut at = 0;
        while at < types_bytes.len() {
            let info = u32_at(types_bytes, at + 4);
            let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
            let mut ty = Ty {
                kind,
                name_off: u32_at(types_bytes, at),
                size_type: u32_at(types_bytes, at + 8),
                params: Vec::new(),
            };
            at += 12;
            let extra = match kind {
                1 | 14 | 17 => 4,             // int, var, decl_tag
                3 => 12,                      // array
                4 | 5 | 15 | 19 => 12 * vlen, // struct, union, datasec, enum64
                6 => 8 * vlen,                // enum
                13 => {
                    ty.params = (0..vlen)
                        .map(|i| u32_at(types_bytes, at + 8 * i + 4))
                        .collect();
                    8 * vlen
                }
                _ => 0,
            };
            at += extra;
            types.push(ty);
        }
        Raw {
            types,
            first_id,
            strings,
            str_base,
            base: base.map(Box::new),
        }
    }

    fn ty(&self, id: u32) -> &Ty {
        if id < self.first_id {
            return self.base.as_ref().expect("id below a base object").ty(id);
        }
        &self.types[(id - self.first_id) as usize]
    }

    fn name(&self, off: u32) -> &str {
        if off < self.str_base {
            return self
                .base
                .as_ref()
                .expect("string below a base object")
                .name(off);
        }
        let s = &self.strings[(off - self.str_base) as usize..];
        std::str::from_utf8(&s[..s.iter().position(|&b| b == 0).unwrap()]).unwrap()
    }

    fn strip(&self, mut id: u32) -> u32 {
        while id != 0 && MODIFIERS.contains(&self.ty(id).kind) {
            id = self.ty(id).size_type;
        }
        id
    }

    fn is_skb(&self, id: u32) -> bool {
        let id = self.strip(id);
        id != 0
            && matches!(self.ty(id).kind, STRUCT | FWD)
            && self.name(self.ty(id).name_off) == "sk_buff"
    }

    /// How many pointer levels lead from `id` to struct sk_buff (1 or 2), if any.
    fn skb_depth(&self, id: u32) -> Option<u32> {
        let p = self.strip(id);
        if p == 0 || self.ty(p).kind != PTR {
            return None;
        }
        let target = self.ty(p).size_type;
        if self.is_skb(target) {
            return Some(1);
        }
        let pp = self.strip(target);
        (pp != 0 && self.ty(pp).kind == PTR && self.is_skb(self.ty(pp).size_type)).then_some(2)
    }

    /// The FUNCs this object defines that take an skb: (name, btf id, skb arg index,
    /// pointer depth). The index is of the first `sk_buff *`, else of the first `**`.
    pub fn skb_functions(&self) -> BTreeSet<(String, u32, usize, u32)> {
        let mut out = BTreeSet::new();
        for (i, t) in self.types.iter().enumerate() {
            if t.kind != FUNC {
                continue;
            }
            let params = &self.ty(t.size_type).params;
            let depths: Vec<Option<u32>> = params
                .iter()
                .filter(|&&p| p != 0)
                .map(|&p| self.skb_depth(p))
                .collect();
            let hit = depths
                .iter()
                .position(|d| *d == Some(1))
                .map(|i| (i, 1))
                .or_else(|| depths.iter().position(|d| *d == Some(2)).map(|i| (i, 2)));
            if let Some((arg, depth)) = hit {
                out.insert((
                    self.name(t.name_off).to_string(),
                    self.first_id + i as u32,
                    arg,
                    depth,
                ));
            }
        }
        out
    }
}
