//! The tracer's errors. Each names what failed and, where there is one, the fix;
//! the binary adds context with anyhow at its edge.

use std::fmt;

use vrft_events::Backend;

/// A refusal of the kernel's: what was asked and the errno, named.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelError {
    pub what: &'static str,
    pub errno: i32,
}

impl KernelError {
    /// `Err` for a syscall result that is a negative errno.
    pub fn check(what: &'static str, ret: i32) -> Result<i32, KernelError> {
        if ret < 0 {
            Err(KernelError { what, errno: -ret })
        } else {
            Ok(ret)
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, errno_name(self.errno))
    }
}

impl std::error::Error for KernelError {}

/// A readable name for the errors the kernel gives when loading or attaching.
pub fn errno_name(errno: i32) -> String {
    match errno {
        524 => "ENOTSUPP (the trampoline cannot take this prototype)".to_string(),
        libc::EBUSY => "EBUSY (ftrace cannot patch it: inlined copy or shared address)".to_string(),
        e => std::io::Error::from_raw_os_error(e).to_string(),
    }
}

/// Each message names its cause in full, and no variant chains a `source`: the
/// binary prints the chain (`{:#}`), which would repeat every cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("tracing needs root (CAP_BPF and CAP_PERFMON): run it with sudo")]
    NotRoot,
    #[error(
        "no traceable skb function matches the selection (--funcs/--exclude-funcs/--module): \
         see `vrft-tui list --all`"
    )]
    NothingSelected,
    #[error("reading the kernel's BTF: {0}")]
    Btf(vrft_btf::Error),
    #[error("{what}: {cause}")]
    Bpf {
        what: &'static str,
        cause: libbpf_rs::Error,
    },
    #[error("the BPF object has no {0} section (a build problem: rebuild vrft-tui)")]
    MissingSection(&'static str),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("splicing the filter into {stub}: {detail}")]
    Splice { stub: &'static str, detail: String },
    /// The kernel refuses every clone of the fentry templates (e.g. lockdown).
    #[error("{0}")]
    Refused(String),
    #[error("interrupted while verifying; nothing was attached")]
    InterruptedVerifying,
    #[error("interrupted while attaching; every probe attached so far was released")]
    Interrupted,
    #[error("the {backend} backend failed: {cause} (without --backend, the first backend that works is used)")]
    Backend { backend: Backend, cause: Box<Error> },
    /// One line per backend, each saying why it was refused.
    #[error("no backend works on this kernel:\n  {0}")]
    NoBackend(String),
    #[error("the ring buffer reader panicked")]
    ReaderPanicked,
    #[error("{what}: {cause}")]
    Io { what: String, cause: std::io::Error },
    #[error("VRFT_RELEASE_FDS not set: this command is run by vrft-tui itself")]
    NotAReleaseChild,
}

impl Error {
    /// Wraps a libbpf error with what was being done.
    pub fn bpf(what: &'static str) -> impl FnOnce(libbpf_rs::Error) -> Error {
        move |cause| Error::Bpf { what, cause }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        move |cause| Error::Io {
            what: what.into(),
            cause,
        }
    }
}

impl From<vrft_btf::Error> for Error {
    fn from(e: vrft_btf::Error) -> Error {
        Error::Btf(e)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
