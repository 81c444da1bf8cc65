//! The test bed's own scenarios (issue 3): each topology proves itself with counted traffic, and
//! `vrft-tui list` finds module functions in the guest's BTF.

use super::scenario::{Outcome, Scenario};
use super::topology::{bridge, veth, vxlan, Flow};

pub fn scenarios() -> Vec<Scenario> {
    vec![
        sanity(),
        topology_veth(),
        topology_vxlan(),
        topology_bridge(),
        exit_status(),
    ]
}

/// `vrft-tui list --all --json` sees module functions, under module names the kernel has BTF for.
fn sanity() -> Scenario {
    let script = r#"
ls /sys/kernel/btf > "$OUT/btf.txt"
vrft-tui list --all --json > "$OUT/list.json"
"#;
    // Scanning all BTF under emulation takes a while.
    Scenario::new("sanity", script, |out: &Outcome| {
        let btf = out.read("btf.txt")?;
        let btf: Vec<&str> = btf.lines().collect();
        let list = out.read("list.json")?;
        let funcs: Vec<serde_json::Value> = list
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|e| format!("list.json: {e}: {l}")))
            .collect::<Result<_, _>>()?;
        // The DESIGN measured about 1,700 skb functions on these kernels.
        if funcs.len() < 1000 {
            return Err(format!("list found only {} functions", funcs.len()));
        }
        for (name, module) in [
            ("veth_xmit", "veth"),
            ("vxlan_rcv", "vxlan"),
            ("br_handle_frame", "bridge"),
        ] {
            let f = funcs
                .iter()
                .find(|f| f["name"] == name)
                .ok_or_else(|| format!("{name} missing from `vrft-tui list --all --json`"))?;
            if f["module"] != module {
                return Err(format!("{name}: module {}, want {module}", f["module"]));
            }
            if !btf.contains(&module) {
                return Err(format!(
                    "{name}: module {module} not in /sys/kernel/btf: {btf:?}"
                ));
            }
            for field in ["skb_arg", "nargs", "status"] {
                if f.get(field).is_none() {
                    return Err(format!("{name}: no `{field}` in {f}"));
                }
            }
        }
        Ok(())
    })
    .timeout(120)
    .also_on(&["7.2"])
}

/// Two namespaces over a veth pair: UDP and TCP with sequence IDs, and ping.
fn topology_veth() -> Scenario {
    let udp = Flow::udp("udp", "a", "b", veth::B, 7777);
    let tcp = Flow {
        count: 20,
        ..Flow::tcp("tcp", "a", "b", veth::B, 7778)
    };
    let script = format!(
        "{}{}{}\nat a ping -c 3 -i 0.2 -W 5 {} > \"$OUT/ping.txt\"\n",
        veth::setup(),
        udp.script(),
        tcp.script(),
        veth::B
    );
    Scenario::new("topology_veth", script, |out: &Outcome| {
        out.expect_ids("udp", 100)?;
        out.expect_ids("tcp", 20)?;
        let ping = out.read("ping.txt")?;
        if !ping.contains("3 received") {
            return Err(format!("ping lost packets:\n{ping}"));
        }
        Ok(())
    })
}

/// UDP between the overlay addresses of a VXLAN tunnel; the device counters show it was encapsulated.
fn topology_vxlan() -> Scenario {
    let udp = Flow::udp("udp", "a", "b", vxlan::OVERLAY_B, 7777);
    let script = format!(
        "{}{}\ncounter a vxlan0 tx_packets > \"$OUT/vxlan_tx\"\ncounter b eth0 rx_packets > \"$OUT/underlay_rx\"\n",
        vxlan::setup(),
        udp.script()
    );
    Scenario::new("topology_vxlan", script, |out: &Outcome| {
        out.expect_ids("udp", 100)?;
        at_least(out, "vxlan_tx", 100)?;
        at_least(out, "underlay_rx", 100)
    })
}

/// Two namespaces through a Linux bridge: UDP and ping; the far port's counter shows the bridge forwarded.
fn topology_bridge() -> Scenario {
    let udp = Flow::udp("udp", "a", "b", bridge::B, 7777);
    let script = format!(
        "{}{}\nat a ping -c 3 -i 0.2 -W 5 {} > \"$OUT/ping.txt\"\ncounter br port-b tx_packets > \"$OUT/port_b_tx\"\n",
        bridge::setup(),
        udp.script(),
        bridge::B
    );
    Scenario::new("topology_bridge", script, |out: &Outcome| {
        out.expect_ids("udp", 100)?;
        at_least(out, "port_b_tx", 103)?;
        let ping = out.read("ping.txt")?;
        if !ping.contains("3 received") {
            return Err(format!("ping lost packets:\n{ping}"));
        }
        Ok(())
    })
}

/// The harness checks itself: a guest script's exit status and output reach the host.
fn exit_status() -> Scenario {
    Scenario::new(
        "harness_exit_status",
        "echo 'failing on purpose'\nexit 3\n",
        |out: &Outcome| {
            if !out.log.contains("failing on purpose") {
                return Err("the guest's output is missing from its console section".into());
            }
            Ok(())
        },
    )
    .expect_exit(3)
}

/// Checks a counter the scenario saved in $OUT/<name>.
fn at_least(out: &Outcome, name: &str, min: u64) -> Result<(), String> {
    let text = out.read(name)?;
    let value: u64 = text
        .trim()
        .parse()
        .map_err(|e| format!("{name}: {text:?}: {e}"))?;
    if value < min {
        return Err(format!("{name} = {value}, want at least {min}"));
    }
    Ok(())
}
