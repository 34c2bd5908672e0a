//! Every kernel hook of every tool, with its candidate functions, in one
//! table. Kernels rename and inline functions across versions; the tools and
//! kvmfi-check pick the first candidate the running kernel has, so users
//! never edit source when a symbol moves. Each man page lists its entries.

/// One probe point of a module: the module parameter that names the
/// function, and the candidates in order of preference.
#[derive(Debug, Clone, Copy)]
pub struct HookSpec {
    /// Module parameter receiving the chosen function name.
    pub param: &'static str,
    /// What the hook is for, in words.
    pub role: &'static str,
    /// Candidate functions, preferred first.
    pub candidates: &'static [&'static str],
}

/// A kernel tool: its binary, its module file and its hooks.
#[derive(Debug, Clone, Copy)]
pub struct ModuleSpec {
    /// Binary name, e.g. `vfs-read-fi`.
    pub tool: &'static str,
    /// Module file stem (the original tools' name), e.g. `file-read-fi`.
    pub module: &'static str,
    pub hooks: &'static [HookSpec],
}

pub const FILE_READ: ModuleSpec = ModuleSpec {
    tool: "vfs-read-fi",
    module: "file-read-fi",
    hooks: &[HookSpec { param: "symbol", role: "read path", candidates: &["vfs_read"] }],
};

pub const FILE_WRITE: ModuleSpec = ModuleSpec {
    tool: "vfs-write-fi",
    module: "file-write-fi",
    hooks: &[HookSpec { param: "symbol", role: "write path", candidates: &["vfs_write"] }],
};

/// Every kernel tool, for kvmfi-check and documentation.
pub const ALL: &[ModuleSpec] = &[FILE_READ, FILE_WRITE];

/// The spec of a tool by binary or module name.
pub fn lookup(name: &str) -> Option<&'static ModuleSpec> {
    ALL.iter().find(|s| s.tool == name || s.module == name)
}
