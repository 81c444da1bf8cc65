//! Naming network namespaces and interfaces the way users do, and resolving
//! them to what the BPF side compares: a namespace inode and an ifindex.

use std::ffi::CString;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use crate::tracer::netns_names as names;

/// A network namespace: its inode, and a path that opens it (when known).
#[derive(Clone, Debug)]
pub struct Netns {
    pub inode: u32,
    pub path: Option<PathBuf>,
}

impl Netns {
    /// The namespace vrft-tui itself runs in.
    pub fn current() -> Result<Netns> {
        let path = PathBuf::from("/proc/self/ns/net");
        let inode = std::fs::metadata(&path)
            .context("cannot read /proc/self/ns/net")?
            .ino() as u32;
        Ok(Netns {
            inode,
            path: Some(path),
        })
    }

    /// `INODE`, `/proc/PID/ns/net`, `/run/netns/NAME` or `NAME` (as `ip netns` names it).
    pub fn resolve(spec: &str) -> Result<Netns> {
        if let Ok(inode) = spec.parse::<u32>() {
            let path = crate::tracer::interfaces::namespace_paths().remove(&(inode as u64));
            return Ok(Netns { inode, path });
        }
        let path = if spec.contains('/') {
            PathBuf::from(spec)
        } else {
            Path::new("/run/netns").join(spec)
        };
        if !spec.contains('/') && !path.exists() {
            // The names the list shows: `host`, a container, a process (`sleep[812]`).
            if let Some(ns) = names::scan().into_iter().find(|n| n.name == spec) {
                let path =
                    crate::tracer::interfaces::namespace_paths().remove(&u64::from(ns.inode));
                return Ok(Netns {
                    inode: ns.inode,
                    path,
                });
            }
        }
        let meta = std::fs::metadata(&path).map_err(|e| {
            anyhow!(
                "unknown network namespace '{spec}' ({}: {e}): give an inode, /proc/PID/ns/net, \
                 a name from `ip netns list`, or one vrft-tui shows (host, docker:ID, COMM[PID])",
                path.display()
            )
        })?;
        Ok(Netns {
            inode: meta.ino() as u32,
            path: Some(path),
        })
    }

    /// Runs `f` inside this namespace, on a thread of its own (setns changes only the caller).
    fn enter<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let path = self.path.clone().ok_or_else(|| {
            anyhow!(
                "network namespace {} has no process or name to enter it by",
                self.inode
            )
        })?;
        std::thread::spawn(move || -> Result<T> {
            let ns =
                File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
            // SAFETY: affects this short-lived thread only.
            if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                bail!(
                    "cannot enter {}: {}",
                    path.display(),
                    std::io::Error::last_os_error()
                );
            }
            Ok(f())
        })
        .join()
        .map_err(|_| anyhow!("namespace thread panicked"))?
    }

    /// The index of interface `spec` (a name or an index) in this namespace.
    pub fn ifindex(&self, spec: &str) -> Result<u32> {
        let owned = spec.to_string();
        let found = self.enter(move || match owned.parse::<u32>() {
            Ok(i) => {
                let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
                // SAFETY: if_indextoname writes at most IF_NAMESIZE bytes into buf.
                (!unsafe { libc::if_indextoname(i, buf.as_mut_ptr()) }.is_null()).then_some(i)
            }
            Err(_) => CString::new(owned)
                .ok()
                // SAFETY: a NUL-terminated name.
                .map(|c| unsafe { libc::if_nametoindex(c.as_ptr()) })
                .filter(|&i| i != 0),
        })?;
        found.ok_or_else(|| {
            anyhow!(
                "no interface '{spec}' in network namespace {} (list them with `ip -n NS link`; \
                 add --netns to look in another namespace)",
                self.inode
            )
        })
    }
}
