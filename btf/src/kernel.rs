//! Facts the tracer reads from the kernel's BTF besides functions: the BTF ids
//! of tracepoints (what a `tp_btf` program attaches with) and the names of
//! `enum skb_drop_reason`.

use btf_rs::Type;

use crate::source::BtfObject;

impl BtfObject {
    /// The BTF id a `tp_btf` program attaches with, if the tracepoint `name`
    /// (e.g. "net_dev_queue") exists: the id of the typedef `btf_trace_<name>`.
    pub fn tracepoint_btf_id(&self, name: &str) -> Option<u32> {
        let ids = self
            .btf
            .resolve_ids_by_name(&format!("btf_trace_{name}"))
            .ok()?;
        ids.into_iter()
            .find(|&id| matches!(self.btf.resolve_type_by_id(id), Ok(Type::Typedef(_))))
    }

    /// The values and names of an enum (`enum NAME`), each name without `strip`.
    /// Empty when this kernel has no such enum.
    pub fn enum_names(&self, name: &str, strip: &str) -> Vec<(u32, String)> {
        let Ok(types) = self.btf.resolve_types_by_name(name) else {
            return Vec::new();
        };
        let Some(e) = types.into_iter().find_map(|t| match t {
            Type::Enum(e) => Some(e),
            _ => None,
        }) else {
            return Vec::new();
        };
        e.members
            .iter()
            .filter_map(|m| {
                let n = self.btf.resolve_name(m).ok()?;
                Some((m.val(), n.trim_start_matches(strip).to_string()))
            })
            .collect()
    }

    /// Whether this kernel has a struct of this name: how the tracer tells
    /// features that add no enum value (e.g. `bpf_tramp_link`, fentry cookies).
    pub fn has_struct(&self, name: &str) -> bool {
        self.btf
            .resolve_types_by_name(name)
            .is_ok_and(|types| types.iter().any(|t| matches!(t, Type::Struct(_))))
    }

    /// The number of arguments of tracepoint `name`'s probe (its
    /// `btf_trace_<name>` typedef, a pointer to a function whose first
    /// argument is the probe's data), if the tracepoint exists.
    pub fn tracepoint_nargs(&self, name: &str) -> Option<usize> {
        let id = self.tracepoint_btf_id(name)?;
        let Ok(Type::Typedef(td)) = self.btf.resolve_type_by_id(id) else {
            return None;
        };
        let Ok(Type::Ptr(ptr)) = self.btf.resolve_chained_type(&td) else {
            return None;
        };
        match self.btf.resolve_chained_type(&ptr) {
            Ok(Type::FuncProto(proto)) => Some(proto.parameters.len().saturating_sub(1)),
            _ => None,
        }
    }

    /// Why packets were dropped, by value (`enum skb_drop_reason`, without its prefix).
    pub fn drop_reasons(&self) -> Vec<(u32, String)> {
        self.enum_names("skb_drop_reason", "SKB_DROP_REASON_")
    }
}
