//! Options shared by every command that attaches probes (`vrft-tui`, `record`).

use anyhow::{bail, Result};
use clap::Args;
use regex::Regex;

use vrft_filter::{FlowSpec, PacketFilter};

use crate::netns::Netns;
use crate::self_traffic::{self, SshConnection};
use crate::tracer::plan::Selection;
use crate::tracer::{Backend, Config, FilterConfig};

#[derive(Args, Debug, Clone)]
pub struct TraceArgs {
    /// How to attach (the values below; what each costs per packet: README, "Backends").
    /// Default: the first this kernel accepts of fsession, fentry, kprobe, tracepoint; the
    /// output says which and why the ones before it were refused.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Probe only functions whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub funcs: Option<String>,
    /// Do not probe functions whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub exclude_funcs: Option<String>,
    /// Probe only functions of this module ("vmlinux" for the core kernel); may be repeated.
    #[arg(long = "module", value_name = "NAME")]
    pub modules: Vec<String>,
    /// Ring buffer size in MiB (rounded up to a power of two).
    #[arg(long, default_value_t = 16, value_name = "MIB")]
    pub ring_size: u32,
    /// Threads that verify the probe programs in parallel before they are attached (default: all
    /// CPUs, 0 on one CPU); 0 loads and attaches one function after the other (the plain serial loop).
    #[arg(long, value_name = "N")]
    pub load_threads: Option<usize>,
    /// On exit, wait for the kernel to release every probe (with a progress bar) instead of
    /// releasing them in a background process.
    #[arg(long)]
    pub wait_detach: bool,
    /// Count every run of every probe per function, packets the filter rejects included (the
    /// probes view's HITS column, `record --json`'s probe_hits): a per-CPU counter per run.
    #[arg(long)]
    pub count_hits: bool,
    /// Keep the first N bytes of each packet where its headers are first readable and again
    /// wherever they change (device or namespace, encapsulation, NAT): what `export -f pcapng`
    /// writes and the tree's header lines show. At most 128; 0 keeps none.
    #[arg(long, value_name = "N", default_value_t = 128,
          value_parser = clap::value_parser!(u16).range(0..=128))]
    pub snaplen: u16,

    /// Only packets on this interface (name or index, in each --netns namespace, or ours);
    /// repeat to allow several.
    #[arg(long, value_name = "NAME|INDEX", help_heading = "Filters")]
    pub iface: Vec<String>,
    /// Only packets in this network namespace: an inode, /proc/PID/ns/net, /run/netns/NAME or
    /// NAME; repeat to allow several.
    #[arg(long, value_name = "NS", help_heading = "Filters")]
    pub netns: Vec<String>,
    /// IP version (4 or 6); repeat to allow several.
    #[arg(long, value_name = "4|6", help_heading = "Filters")]
    pub ipv: Vec<String>,
    /// L4 protocol: tcp, udp, icmp, icmpv6 or a number; repeat to allow several.
    #[arg(long, value_name = "PROTO", help_heading = "Filters")]
    pub proto: Vec<String>,
    /// Source address (v4 or v6, optional /prefix); repeat to allow several.
    #[arg(long, value_name = "ADDR[/LEN]", help_heading = "Filters")]
    pub saddr: Vec<String>,
    /// Destination address (v4 or v6, optional /prefix); repeat to allow several.
    #[arg(long, value_name = "ADDR[/LEN]", help_heading = "Filters")]
    pub daddr: Vec<String>,
    /// Source port; repeat to allow several.
    #[arg(long, value_name = "PORT", help_heading = "Filters")]
    pub sport: Vec<String>,
    /// Destination port; repeat to allow several.
    #[arg(long, value_name = "PORT", help_heading = "Filters")]
    pub dport: Vec<String>,
    /// Match flow and pcap filters on the inner frame of VXLAN and GENEVE packets (overlay
    /// addresses); without it they match the outer headers.
    #[arg(long, help_heading = "Filters")]
    pub inner: bool,
    /// Take each packet's id from the first 32 bits of its UDP payload (the inner payload
    /// for VXLAN and GENEVE), so one id names the packet before and after encapsulation.
    #[arg(long, help_heading = "Filters")]
    pub payload_id: bool,
    /// Also record these members of struct sk_buff (or of its skb_shared_info, e.g. gso_size)
    /// at every call, read at the offsets this kernel's BTF gives: e.g.
    /// len,data_len,gso_size,gso_segs,gso_type,mark,hash,protocol. At most 8.
    #[arg(long, value_name = "FIELD,...", value_delimiter = ',')]
    pub skb_fields: Vec<String>,
    /// Trace this SSH session's own connection too. By default, when vrft-tui runs over SSH
    /// (directly or under sudo), the segments of that connection (our own screen updates)
    /// are left out of the capture.
    #[arg(long, help_heading = "Filters")]
    pub no_exclude_self: bool,
    /// A pcap-filter expression, as for tcpdump (e.g. 'udp and host 10.0.0.1').
    #[arg(
        value_name = "PCAP EXPRESSION",
        trailing_var_arg = true,
        help_heading = "Filters"
    )]
    pub expr: Vec<String>,
}

fn parse_all<T: std::str::FromStr>(flag: &str, values: &[String]) -> Result<Vec<T>>
where
    T::Err: std::fmt::Display,
{
    values
        .iter()
        .map(|v| {
            v.parse()
                .map_err(|e| anyhow::anyhow!("invalid --{flag} '{v}': {e}"))
        })
        .collect()
}

fn regex(flag: &str, re: &Option<String>) -> Result<Option<Regex>> {
    re.as_deref()
        .map(|r| {
            Regex::new(r).map_err(|e| {
                // The regex crate draws a multi-line picture; its last line names the problem.
                let text = e.to_string();
                let why = text
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim_start_matches("error: ")
                    .to_string();
                anyhow::anyhow!("invalid {flag} regex '{r}': {why}; fix the pattern")
            })
        })
        .transpose()
}

impl TraceArgs {
    pub fn config(&self) -> Result<Config> {
        if self.ring_size == 0 || self.ring_size > 1024 {
            bail!(
                "--ring-size {} MiB is out of range: use 1 to 1024",
                self.ring_size
            );
        }
        Ok(Config {
            backend: self.backend,
            selection: Selection {
                funcs: regex("--funcs", &self.funcs)?,
                exclude: regex("--exclude-funcs", &self.exclude_funcs)?,
                modules: self.modules.clone(),
            },
            ring_bytes: (self.ring_size << 20).next_power_of_two(),
            load_threads: self
                .load_threads
                // One CPU: the serial loop, measured faster than verifying first on one thread.
                .unwrap_or_else(|| match std::thread::available_parallelism() {
                    Ok(n) if n.get() > 1 => n.get(),
                    _ => 0,
                }),
            wait_detach: self.wait_detach,
            filter_text: self.filter_text(),
            filter: self.filter()?,
            skb_fields: self.skb_fields()?,
            libbpf_debug: std::env::var_os("VRFT_DEBUG").is_some(),
            count_hits: self.count_hits,
            queue_bytes: None,
            snaplen: self.snaplen,
        })
    }

    /// Resolves `--skb-fields` in the running kernel's BTF.
    fn skb_fields(&self) -> Result<Vec<vrft_btf::SkbField>> {
        if self.skb_fields.is_empty() {
            return Ok(Vec::new());
        }
        let path = std::path::Path::new(vrft_btf::SYSFS_BTF_DIR).join(vrft_btf::VMLINUX);
        let vmlinux = vrft_btf::BtfObject::vmlinux_from_file(&path)?;
        let names: Vec<String> = self
            .skb_fields
            .iter()
            .map(|n| n.trim().to_string())
            .collect();
        vrft_btf::resolve_skb_fields(&vmlinux, &names).map_err(|e| anyhow::anyhow!(e))
    }

    /// The pcap expression of the flow flags, the user's expression and the self-exclusion.
    fn expression(&self) -> Result<String> {
        let asked = self.asked_expression()?;
        Ok(match self.self_exclusion() {
            Some(ssh) => vrft_filter::combine(&asked, &format!("not ({})", ssh.expression())),
            None => asked,
        })
    }

    /// The pcap expression of the flow flags and the user's expression together.
    fn asked_expression(&self) -> Result<String> {
        let spec = FlowSpec {
            ipv: parse_all("ipv", &self.ipv)?,
            proto: parse_all("proto", &self.proto)?,
            saddr: parse_all("saddr", &self.saddr)?,
            daddr: parse_all("daddr", &self.daddr)?,
            sport: parse_all("sport", &self.sport)?,
            dport: parse_all("dport", &self.dport)?,
        };
        Ok(vrft_filter::combine(
            &vrft_filter::flow_expression(&spec),
            &self.expr.join(" "),
        ))
    }

    /// The SSH connection left out of the capture (see `self_traffic`), if any.
    pub fn self_exclusion(&self) -> Option<SshConnection> {
        if self.no_exclude_self {
            return None;
        }
        self_traffic::current()
    }

    /// The line that says so at start-up.
    pub fn self_exclusion_line(&self) -> Option<String> {
        self.self_exclusion().map(|ssh| {
            format!("not tracing this SSH session's connection {ssh} (--no-exclude-self traces it)")
        })
    }

    /// The filter as the user gave it, for the status line.
    fn filter_text(&self) -> String {
        let mut parts = Vec::new();
        let any = |flag: &str, v: &[String]| match v {
            [one] => format!("{flag} {one}"),
            many => format!(
                "({})",
                many.iter()
                    .map(|x| format!("{flag} {x}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        };
        if !self.iface.is_empty() {
            parts.push(any("iface", &self.iface));
        }
        if !self.netns.is_empty() {
            parts.push(any("netns", &self.netns));
        }
        if let Ok(e) = self.asked_expression() {
            if !e.is_empty() {
                parts.push(e);
            }
        }
        if self.inner {
            parts.push("(inner)".into());
        }
        if let Some(ssh) = self.self_exclusion() {
            parts.push(format!("not our ssh {ssh}"));
        }
        parts.join(" and ")
    }

    /// Resolves names and compiles the expression: every mistake is found here,
    /// before anything is loaded.
    fn filter(&self) -> Result<FilterConfig> {
        let netns: Vec<Netns> = self
            .netns
            .iter()
            .map(|n| Netns::resolve(n))
            .collect::<Result<_>>()?;
        let mut f = FilterConfig {
            inner: self.inner,
            payload_id: self.payload_id,
            netns: netns.iter().map(|n| n.inode).collect(),
            ..Default::default()
        };
        if !self.iface.is_empty() {
            // An ifindex names a device only within its namespace: each interface is
            // looked up in every namespace given, and must exist in at least one.
            let spaces = if netns.is_empty() {
                vec![Netns::current()?]
            } else {
                netns
            };
            for iface in &self.iface {
                let mut errors = Vec::new();
                for ns in &spaces {
                    match ns.ifindex(iface) {
                        Ok(i) => f.devs.push((ns.inode, i)),
                        Err(e) => errors.push(e),
                    }
                }
                if errors.len() == spaces.len() {
                    return Err(errors.remove(0));
                }
            }
        }
        let max = crate::tracer::MAX_FILTER_DEVS;
        if f.devs.len() > max || f.netns.len() > max {
            bail!(
                "at most {max} interfaces and {max} namespaces per trace: narrow --iface/--netns"
            );
        }
        let expr = self.expression()?;
        if !expr.is_empty() {
            let opts = crate::tracer::pcap_options();
            f.pcap = Some(PacketFilter::new(&expr, &opts).map_err(|e| anyhow::anyhow!("{e}"))?);
        }
        Ok(f)
    }
}
