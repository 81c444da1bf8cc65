//! Live mode's memory budget: the whole process gets a limit (`--max-memory`), the packet
//! model gets what the limit leaves once tracing runs, and the oldest packets are evicted
//! when the model outgrows its share.

/// The limit, the model's share of it, and what the process last used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// For the whole process (its resident set), in bytes.
    pub limit: u64,
    /// What the model may hold ([`crate::model::Model::bytes`]).
    pub model: usize,
    /// The resident set when last measured (once a second).
    pub rss: u64,
}

/// Of what the limit leaves, the share the model's own count may reach: the rest covers the
/// allocator's overhead (about as much again as the model counts, measured with a ping
/// flood), the packet index, the list's vectors and the batches in flight.
const MODEL_SHARE: (u64, u64) = (1, 3);

/// The least headroom worth running with: below it, eviction would leave a few packets.
pub const MIN_HEADROOM: u64 = 4 << 20;
/// The least share the model keeps when the resident set runs over (a few thousand packets).
const MIN_SHARE: usize = 1 << 20;

impl Budget {
    /// The resident set was measured at `rss`: past 15/16 of the limit the model's share
    /// shrinks by a quarter (down to [`MIN_SHARE`]), since what the allocator keeps beside
    /// the model is not counted otherwise. Returns whether it shrank.
    pub fn measured(&mut self, rss: u64) -> bool {
        self.rss = rss;
        if rss <= self.limit / 16 * 15 || self.model <= MIN_SHARE {
            return false;
        }
        self.model = (self.model / 4 * 3).max(MIN_SHARE);
        true
    }

    /// A budget of `limit` bytes for a process that already uses `baseline` (the probes, the
    /// ring buffer's mapping, the function table) before the first packet.
    pub fn new(limit: u64, baseline: u64) -> Result<Budget, String> {
        let headroom = limit.saturating_sub(baseline);
        if headroom < MIN_HEADROOM {
            return Err(format!(
                "--max-memory {} leaves no room for packets: tracing needs {} (probes, function \
                 table, ring buffer mapped twice); give at least {} or a smaller --ring-size",
                human_bytes(limit),
                human_bytes(baseline),
                human_bytes(baseline + MIN_HEADROOM * 4)
            ));
        }
        Ok(Budget {
            limit,
            model: (headroom / MODEL_SHARE.1 * MODEL_SHARE.0) as usize,
            rss: baseline,
        })
    }
}

/// The resident set of this process, in bytes (`VmRSS` of `/proc/self/status`).
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

/// `64M`, `1.5G`, `512K`, `1048576`: a size as people write it (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let shift = match unit
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => {
            return Err(format!(
                "unknown unit in '{s}': use K, M, G or T (e.g. 512M)"
            ))
        }
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is no size: write e.g. 64M, 1.5G or 1048576"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!(
            "'{s}' is no size: give a positive amount, e.g. 64M"
        ));
    }
    Ok((n * (1u64 << shift) as f64) as u64)
}

/// `64.0M`: bytes the way the status line shows them.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b}B")
    } else if v >= 100.0 {
        format!("{v:.0}{}", UNITS[u])
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_people_write_them() {
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("64Q").unwrap_err().contains("unit"));
        assert!(parse_size("-1M").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn the_model_gets_a_share_of_what_tracing_leaves() {
        let b = Budget::new(64 << 20, 16 << 20).unwrap();
        assert_eq!(b.model, 16 << 20);
        let e = Budget::new(30 << 20, 28 << 20).unwrap_err();
        assert!(
            e.contains("leaves no room") && e.contains("--ring-size"),
            "{e}"
        );
        assert_eq!(human_bytes(64 << 20), "64.0M");
        // Over 15/16 of the limit, the share shrinks by a quarter, not below its floor.
        let mut b = Budget::new(64 << 20, 16 << 20).unwrap();
        assert!(!b.measured(60 << 20));
        assert!(b.measured(61 << 20));
        assert_eq!(b.model, 12 << 20);
        while b.measured(63 << 20) {}
        assert_eq!(b.model, MIN_SHARE);
        assert_eq!(human_bytes(1536 << 20), "1.5G");
    }
}
