//! Older kernels (issue 20): on Debian 11's 5.10 every backend is refused
//! before anything loads, each with one line naming the kernel feature it
//! lacks and the first Linux version that has it, and `list` says why the
//! loaded modules' functions cannot be traced. 6.1 proves the kprobe line.

use super::scenario::{Outcome, Scenario};

pub fn scenarios() -> Vec<Scenario> {
    vec![kernel_gaps()]
}

/// The refusal lines `record` prints on each kernel (one per backend).
fn expected_lines(kernel: &str) -> &'static [&'static str] {
    match kernel {
        "5.10" => &[
            "no backend works on this kernel:",
            "  fsession refused: this kernel has no tracing multi-link (Linux 7.2+): load: ",
            "  fentry refused: this kernel (5.10) has no bpf_get_func_arg (5.17+)",
            "  kprobe refused: this kernel (5.10) has no kprobe sessions (6.10+)",
            "  tracepoint refused: this kernel (5.10) has no BPF atomic fetch-add (nor pointer \
             arguments to global functions) (5.12+)",
        ],
        _ => &[
            "the kprobe backend failed: this kernel (6.1) has no kprobe sessions (6.10+) \
             (without --backend, the first backend that works is used)",
        ],
    }
}

fn kernel_gaps() -> Scenario {
    // A narrow --funcs: refusals come before anything loads, whatever the set.
    let script = r#"
vrft-tui list > "$OUT/list.txt" 2> "$OUT/list.err"
case $(uname -r) in
  5.10.*) backend= ;;
  *) backend="--backend kprobe" ;;
esac
if vrft-tui record -o "$OUT/rec.vrft" --funcs '^ip_rcv$' --duration 1 $backend \
    > "$OUT/record.out" 2> "$OUT/record.err"; then
  echo "record should have been refused" >&2
  exit 1
fi
cat "$OUT/list.err" "$OUT/record.err"
"#;
    Scenario::new("kernel_gaps", script, |out: &Outcome| {
        let err = out.read("record.err")?;
        for want in expected_lines(&out.kernel) {
            // Exact, but for vrft-tui's prefix and, after a line ending in ": ",
            // the kernel's errno text.
            let is = |l: &str| {
                l.strip_prefix("vrft-tui: ").unwrap_or(l) == *want
                    || (want.ends_with(": ") && l.starts_with(want))
            };
            if !err.lines().any(is) {
                return Err(format!("record.err lacks the line {want:?}:\n{err}"));
            }
        }
        let list_err = out.read("list.err")?;
        let module_line = list_err
            .lines()
            .find(|l| l.starts_with("module functions ("));
        match (out.kernel.as_str(), module_line) {
            ("5.10", Some(l)) => {
                let tail = "): not traceable: this kernel (5.10) has no module BTF (5.11+), so \
                            only vmlinux functions are scanned and traced";
                if !l.ends_with(tail) || !l.contains("veth") {
                    return Err(format!("list's module line is {l:?}"));
                }
            }
            ("5.10", None) => return Err(format!("list names no module gap:\n{list_err}")),
            (_, Some(l)) => return Err(format!("{} has module BTF, yet: {l}", out.kernel)),
            (_, None) => {}
        }
        // vmlinux functions stay traceable (about 1,270 on Debian's 5.10).
        let list = out.read("list.txt")?;
        let traceable = list
            .lines()
            .last()
            .and_then(|l| l.split(" / ").nth(1))
            .and_then(|t| t.strip_prefix("traceable "))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| format!("list has no summary line:\n{list}"))?;
        if traceable < 1000 {
            return Err(format!("list found only {traceable} traceable functions"));
        }
        Ok(())
    })
    .timeout(300)
    .only_on(&["5.10", "6.1"])
}
