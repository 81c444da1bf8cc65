//! Errors, each one line naming the problem and what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "no kernel BTF at {0}: the running kernel was built without CONFIG_DEBUG_INFO_BTF; \
         pass --btf FILE with a vmlinux ELF or a raw BTF blob for this kernel"
    )]
    NoKernelBtf(PathBuf),

    #[error("cannot read {path}: {err}; check the path and its permissions")]
    Read { path: PathBuf, err: std::io::Error },

    #[error(
        "{0} is an ELF file without a .BTF section; \
         use a kernel or module built with CONFIG_DEBUG_INFO_BTF=y"
    )]
    NoBtfSection(PathBuf),

    #[error("{path}: {what}; {fix}")]
    Unsupported {
        path: PathBuf,
        what: &'static str,
        fix: &'static str,
    },

    #[error("corrupt BTF in {path}: {detail}; pass an intact raw BTF blob or an ELF file with a .BTF section")]
    Corrupt { path: PathBuf, detail: String },

    #[error(
        "module BTF in {path} does not fit the vmlinux BTF (built for another kernel, or corrupt): {detail}; \
         pass that kernel's vmlinux with --btf"
    )]
    ModuleMismatch { path: PathBuf, detail: String },
}

pub type Result<T> = std::result::Result<T, Error>;
