//! Not tracing our own terminal: when vrft-tui runs in an SSH session, every screen update
//! is TCP through the stack being traced, which would fill the list with our own output and
//! redraw for it. The session's connection is excluded from the capture by default, the way
//! Wireshark builds its default capture filter from `SSH_CONNECTION`.

use std::net::IpAddr;

/// One SSH connection, as `SSH_CONNECTION` gives it: client address and port, server
/// address and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SshConnection {
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
}

impl SshConnection {
    /// `"10.0.2.2 51234 10.0.2.15 22"`. IPv4-mapped IPv6 addresses (a server on a dual-stack
    /// socket) are taken as the IPv4 addresses the packets carry.
    pub fn parse(s: &str) -> Option<SshConnection> {
        let mut it = s.split_whitespace();
        let addr = |a: &str| a.parse::<IpAddr>().ok().map(|a| a.to_canonical());
        let conn = SshConnection {
            client: addr(it.next()?)?,
            client_port: it.next()?.parse().ok()?,
            server: addr(it.next()?)?,
            server_port: it.next()?.parse().ok()?,
        };
        it.next().is_none().then_some(conn)
    }

    /// The pcap expression matching this connection's segments, both directions.
    pub fn expression(&self) -> String {
        format!(
            "tcp and host {} and port {} and host {} and port {}",
            self.client, self.client_port, self.server, self.server_port
        )
    }
}

impl std::fmt::Display for SshConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |a: IpAddr, p: u16| match a {
            IpAddr::V4(a) => format!("{a}:{p}"),
            IpAddr::V6(a) => format!("[{a}]:{p}"),
        };
        write!(
            f,
            "{} <-> {}",
            at(self.client, self.client_port),
            at(self.server, self.server_port)
        )
    }
}

/// The SSH connection this process runs in: `SSH_CONNECTION` of this process, or else of the
/// nearest ancestor that has it (sudo resets the environment, but the login shell sshd
/// started still holds it, readable in /proc by root).
pub fn current() -> Option<SshConnection> {
    if let Some(c) = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|v| SshConnection::parse(&v))
    {
        return Some(c);
    }
    let mut pid = parent_of(std::process::id())?;
    // The chain ends at init; the bound only guards against a /proc that lies.
    for _ in 0..64 {
        if pid <= 1 {
            return None;
        }
        if let Some(c) = environ_var(pid, "SSH_CONNECTION").and_then(|v| SshConnection::parse(&v)) {
            return Some(c);
        }
        pid = parent_of(pid)?;
    }
    None
}

/// The parent of `pid` (field 4 of /proc/PID/stat, after the parenthesised command name).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// One variable of a process's initial environment.
fn environ_var(pid: u32, name: &str) -> Option<String> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    env.split(|&b| b == 0).find_map(|kv| {
        let kv = std::str::from_utf8(kv).ok()?;
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_sshd_sets() {
        let c = SshConnection::parse("10.0.2.2 51234 10.0.2.15 22").unwrap();
        assert_eq!(c.to_string(), "10.0.2.2:51234 <-> 10.0.2.15:22");
        assert_eq!(
            c.expression(),
            "tcp and host 10.0.2.2 and port 51234 and host 10.0.2.15 and port 22"
        );
        let v6 = SshConnection::parse("fe80::1 40000 fe80::2 22").unwrap();
        assert_eq!(v6.to_string(), "[fe80::1]:40000 <-> [fe80::2]:22");
        let mapped = SshConnection::parse("::ffff:10.0.2.2 51234 ::ffff:10.0.2.15 22").unwrap();
        assert_eq!(mapped, c);
        assert!(SshConnection::parse("10.0.2.2 51234 10.0.2.15").is_none());
        assert!(SshConnection::parse("").is_none());
    }

    #[test]
    fn finds_our_parent_and_its_environment() {
        let me = std::process::id();
        let parent = parent_of(me).expect("a parent");
        assert_ne!(parent, me);
        // Our own environment, read back the way an ancestor's is.
        std::env::var("PATH").expect("PATH is set");
        assert_eq!(environ_var(me, "PATH"), std::env::var("PATH").ok());
    }
}
