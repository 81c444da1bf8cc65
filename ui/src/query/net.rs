//! An address or prefix (`10.0.0.1`, `192.168.42.0/24`, `fd00::/64`) and whether an address
//! lies in it: a mask compare, too small to be worth a dependency.

use std::net::IpAddr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Net {
    addr: IpAddr,
    len: u8,
}

/// The address as a left-aligned 128-bit number and its family's width.
fn bits(a: IpAddr) -> (u128, u8) {
    match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
        IpAddr::V6(v) => (u128::from(v), 128),
    }
}

fn mask(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

impl Net {
    /// Parses as the CLI's `--saddr`/`--daddr` do: the same errors, the same fixes.
    pub fn parse(key: &str, v: &str) -> Result<Net, String> {
        let (a, len) = match v.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (v, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| {
            format!(
                "{key}= needs an address or prefix (10.0.0.1, 10.0.0.0/24, fd00::/64), not '{v}'"
            )
        })?;
        let max = bits(addr).1;
        let len = match len {
            None => max,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(format!("invalid prefix length '{v}': use /0 to /{max}")),
            },
        };
        let net = Net { addr, len };
        let (n, _) = bits(addr);
        if n & !mask(len) != 0 {
            let base: IpAddr = match addr {
                IpAddr::V4(_) => std::net::Ipv4Addr::from(((n & mask(len)) >> 96) as u32).into(),
                IpAddr::V6(_) => std::net::Ipv6Addr::from(n & mask(len)).into(),
            };
            return Err(format!(
                "invalid network '{v}': host bits are set; did you mean {base}/{len}?"
            ));
        }
        Ok(net)
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        let ((n, fam), (m, fam_a)) = (bits(self.addr), bits(a));
        fam == fam_a && (n ^ m) & mask(self.len) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_contain_their_addresses_only() {
        let n = Net::parse("host", "192.168.42.0/24").unwrap();
        assert!(n.contains(ip("192.168.42.1")) && n.contains(ip("192.168.42.255")));
        assert!(!n.contains(ip("192.168.43.1")) && !n.contains(ip("::1")));
        let one = Net::parse("src", "10.0.0.1").unwrap();
        assert!(one.contains(ip("10.0.0.1")) && !one.contains(ip("10.0.0.2")));
        let all = Net::parse("src", "0.0.0.0/0").unwrap();
        assert!(all.contains(ip("1.2.3.4")) && !all.contains(ip("fd00::1")));
        let v6 = Net::parse("dst", "fd00::/64").unwrap();
        assert!(v6.contains(ip("fd00::2")) && !v6.contains(ip("fd00:0:0:1::2")));
    }

    #[test]
    fn bad_prefixes_say_the_fix() {
        let e = Net::parse("src", "10.1.2.3/8").unwrap_err();
        assert!(e.contains("did you mean 10.0.0.0/8?"), "{e}");
        let e = Net::parse("src", "10.0.0.0/33").unwrap_err();
        assert!(e.contains("use /0 to /32"), "{e}");
        assert!(Net::parse("host", "10.0.0")
            .unwrap_err()
            .contains("address or prefix"));
        let e = Net::parse("dst", "fd00::1/48").unwrap_err();
        assert!(e.contains("did you mean fd00::/48?"), "{e}");
    }
}
