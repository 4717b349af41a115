//! What a command tells Redis about itself, as plain data: flags, arity, where its keys are,
//! and the docs that `COMMAND DOCS` shows. `command_info` turns it into the module API's
//! structures at load.

use std::ffi::CStr;

pub struct CommandSpec {
    pub name: &'static CStr,
    /// `RedisModule_CreateCommand` flags, e.g. `write fast`.
    pub flags: &'static CStr,
    /// ACL categories, set where the server supports them (Redis 7.2+, Valkey).
    pub acl_categories: &'static CStr,
    /// Redis's arity: the exact argument count with the name, or -N for "at least N".
    pub arity: i32,
    pub keys: KeySpec,
    pub key_access: KeyAccess,
    pub summary: &'static CStr,
    pub complexity: &'static CStr,
    /// The module version that introduced the command.
    pub since: &'static CStr,
    pub args: &'static [ArgSpec],
}

impl CommandSpec {
    /// Whether the command answers Redis's keys requests itself (`Command::key_positions`).
    pub const fn reports_keys(&self) -> bool {
        matches!(self.keys, KeySpec::Counted { .. })
    }
}

/// Where a command's keys are (positions count the command name as 0).
pub enum KeySpec {
    /// One key, at this position.
    One { at: i32 },
    /// A count at `count_at`, then a key every `step` arguments, starting right after it.
    /// Redis 7.0 miscounts such specs when `step` is not 1, so the command also reports its
    /// keys itself (`getkeys-api` in its flags, `Command::key_positions`).
    Counted { count_at: i32, step: i32 },
}

/// What the command does to its keys (for key specs: ACL key permissions, docs).
pub enum KeyAccess {
    /// Reads the value and rewrites it.
    Update,
    /// Only reads it.
    Read,
}

#[derive(Clone, Copy)]
pub struct ArgSpec {
    pub name: &'static CStr,
    pub kind: ArgKind,
    pub optional: bool,
    pub multiple: bool,
    pub token: Option<&'static CStr>,
    pub summary: Option<&'static CStr>,
    /// For `ArgKind::Block` and `ArgKind::OneOf`.
    pub subargs: &'static [ArgSpec],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    Key,
    Integer,
    Double,
    PureToken,
    Block,
    OneOf,
}

impl ArgSpec {
    /// A required argument of `kind` with a summary.
    pub const fn new(name: &'static CStr, kind: ArgKind, summary: &'static CStr) -> ArgSpec {
        ArgSpec {
            name,
            kind,
            optional: false,
            multiple: false,
            token: None,
            summary: Some(summary),
            subargs: &[],
        }
    }

    pub const fn key(name: &'static CStr) -> ArgSpec {
        ArgSpec {
            summary: None,
            ..ArgSpec::new(name, ArgKind::Key, c"")
        }
    }

    pub const fn optional(self) -> ArgSpec {
        ArgSpec {
            optional: true,
            ..self
        }
    }

    pub const fn multiple(self) -> ArgSpec {
        ArgSpec {
            multiple: true,
            ..self
        }
    }

    pub const fn token(self, token: &'static CStr) -> ArgSpec {
        ArgSpec {
            token: Some(token),
            ..self
        }
    }

    pub const fn without_summary(self) -> ArgSpec {
        ArgSpec {
            summary: None,
            ..self
        }
    }

    pub const fn with(self, subargs: &'static [ArgSpec]) -> ArgSpec {
        ArgSpec { subargs, ..self }
    }
}
