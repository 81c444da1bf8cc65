//! Names for network namespaces, the way people know them: the name `ip netns` gave it, `host`
//! for the namespace of init, the container whose processes are in it, or else the process
//! holding it (`sleep[812]`, the lowest PID in it). Read from /run/netns and /proc at start,
//! and again when an event shows a namespace not named yet: never per event.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt;

use vrft_events::session::Namespace;

/// The name of the namespace init (PID 1) is in.
pub const HOST: &str = "host";

/// Every namespace with a name, `ip netns` names first.
pub fn scan() -> Vec<Namespace> {
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    let mut named: Vec<(String, u32)> = std::fs::read_dir("/run/netns")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let inode = std::fs::metadata(e.path()).ok()?.ino() as u32;
            Some((e.file_name().to_string_lossy().into_owned(), inode))
        })
        .collect();
    named.sort();
    for (name, inode) in named {
        names.entry(inode).or_insert(name);
    }
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    // The lowest PID first: a container's init, the process that created the namespace.
    pids.sort_unstable();
    for pid in pids {
        let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/ns/net")) else {
            continue;
        };
        let inode = meta.ino() as u32;
        if names.contains_key(&inode) {
            continue;
        }
        let name = if pid == 1 {
            HOST.to_string()
        } else {
            let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            match container_of(&cgroup) {
                Some(c) => c,
                None => match std::fs::read_to_string(format!("/proc/{pid}/comm")) {
                    Ok(comm) => format!("{}[{pid}]", word(comm.trim_end())),
                    Err(_) => continue, // gone meanwhile
                },
            }
        };
        names.insert(inode, name);
    }
    let mut out: Vec<Namespace> = names
        .into_iter()
        .map(|(inode, name)| Namespace { inode, name })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `docker:3f4e1a2b9c0d` for a process of a Docker, Podman or containerd container, from the
/// last part of its cgroup path that names one.
pub fn container_of(cgroup: &str) -> Option<String> {
    let path = cgroup.lines().find_map(|l| l.splitn(3, ':').nth(2))?;
    path.rsplit('/').find_map(|part| {
        let part = part.strip_suffix(".scope").unwrap_or(part);
        let (engine, id) = [
            ("docker-", "docker"),
            ("libpod-", "podman"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
        ]
        .iter()
        .find_map(|(prefix, engine)| Some((*engine, part.strip_prefix(prefix)?)))
        .or_else(|| {
            // cgroup v1 and cgroupfs drivers: /docker/<id>
            (path.contains("/docker/") && is_id(part)).then_some(("docker", part))
        })?;
        is_id(id).then(|| format!("{engine}:{}", &id[..12]))
    })
}

/// A process name as one word of a filter (`netns=NAME`): no blanks or parentheses.
fn word(comm: &str) -> String {
    comm.chars()
        .map(|c| {
            if c.is_whitespace() || "()&|!".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The names known, and a rescan when an event shows an inode without one.
#[derive(Debug)]
pub struct Namer {
    names: Vec<Namespace>,
    /// Inodes a rescan already looked for (named or not): each costs at most one.
    tried: HashSet<u32>,
}

impl Namer {
    pub fn new(names: Vec<Namespace>) -> Namer {
        let tried = names.iter().map(|n| n.inode).collect();
        Namer { names, tried }
    }

    pub fn names(&self) -> &[Namespace] {
        &self.names
    }

    /// An inode an event carries: true when a rescan found names not known before.
    pub fn learn(&mut self, inode: u32) -> bool {
        if inode == 0 || !self.tried.insert(inode) {
            return false;
        }
        let fresh = scan();
        let grew = fresh
            .iter()
            .any(|n| !self.names.iter().any(|o| o.inode == n.inode));
        for n in fresh {
            if !self.names.iter().any(|o| o.inode == n.inode) {
                self.tried.insert(n.inode);
                self.names.push(n);
            }
        }
        grew
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_by_engine_and_short_id() {
        let id = "3f4e1a2b9c0d".repeat(5) + "abcd";
        assert_eq!(
            container_of(&format!("0::/system.slice/docker-{id}.scope\n")),
            Some("docker:3f4e1a2b9c0d".into())
        );
        assert_eq!(
            container_of(&format!("12:pids:/docker/{id}\n")),
            Some("docker:3f4e1a2b9c0d".into())
        );
        assert_eq!(
            container_of(&format!("0::/machine.slice/libpod-{id}.scope/container\n")),
            Some("podman:3f4e1a2b9c0d".into())
        );
        assert_eq!(
            container_of("0::/user.slice/user-1000.slice/session-2.scope\n"),
            None
        );
    }

    #[test]
    fn our_namespace_is_named() {
        let ours = std::fs::metadata("/proc/self/ns/net").unwrap().ino() as u32;
        let names = scan();
        let me = names
            .iter()
            .find(|n| n.inode == ours)
            .expect("our namespace");
        assert!(!me.name.is_empty());
        let mut namer = Namer::new(Vec::new());
        assert!(namer.learn(ours), "a rescan names it");
        assert!(!namer.learn(ours), "and is not repeated");
        assert!(namer.names().iter().any(|n| n.inode == ours));
    }
}
