//! Turns a `CommandSpec` into what `RedisModule_SetCommandInfo` reads (Redis 7.0+), which
//! copies everything it is given: the arrays built here only live for the call.
//!
//! The key specs matter beyond docs: cluster routing and CROSSSLOT checks use them.

use std::ffi::CStr;
use std::mem::size_of;
use std::os::raw::c_int;
use std::ptr::{null, null_mut};

use redis_module::raw::{
    RedisModuleCommand, RedisModuleCommandArg, RedisModuleCommandArgType,
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_BLOCK as BLOCK,
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_DOUBLE as DOUBLE,
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_INTEGER as INTEGER,
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_KEY as KEY,
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_ONEOF as ONEOF,
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_PURE_TOKEN as PURE_TOKEN,
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_STRING as STRING,
    RedisModuleCommandHistoryEntry, RedisModuleCommandInfo, RedisModuleCommandInfoVersion,
    RedisModuleCommandKeySpec, RedisModuleCommandKeySpec__bindgen_ty_1 as BeginSearch,
    RedisModuleCommandKeySpec__bindgen_ty_1__bindgen_ty_1 as BeginIndex,
    RedisModuleCommandKeySpec__bindgen_ty_2 as FindKeys,
    RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_1 as FindRange,
    RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_2 as FindKeyNum,
    RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INDEX as BS_INDEX,
    RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INVALID as BS_INVALID,
    RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_KEYNUM as FK_KEYNUM,
    RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE as FK_RANGE,
    REDISMODULE_CMD_ARG_MULTIPLE, REDISMODULE_CMD_ARG_OPTIONAL, REDISMODULE_CMD_KEY_ACCESS,
    REDISMODULE_CMD_KEY_RO, REDISMODULE_CMD_KEY_RW, REDISMODULE_CMD_KEY_UPDATE,
    REDISMODULE_CMD_KEY_VARIABLE_FLAGS,
};

use super::spec::{ArgKind, ArgSpec, CommandSpec, KeyAccess, KeySpec};
use super::{redis_api, OK};
use gcra_core::Error;

/// Redis reads our arrays with these strides, so newer struct layouts work on older servers.
const VERSION: RedisModuleCommandInfoVersion = RedisModuleCommandInfoVersion {
    version: 1,
    sizeof_historyentry: size_of::<RedisModuleCommandHistoryEntry>(),
    sizeof_keyspec: size_of::<RedisModuleCommandKeySpec>(),
    sizeof_arg: size_of::<RedisModuleCommandArg>(),
};

fn key_flags(access: &KeyAccess) -> u64 {
    u64::from(match access {
        // A read-modify-write of the value.
        KeyAccess::Update => {
            REDISMODULE_CMD_KEY_RW | REDISMODULE_CMD_KEY_ACCESS | REDISMODULE_CMD_KEY_UPDATE
        }
        KeyAccess::Read => REDISMODULE_CMD_KEY_RO | REDISMODULE_CMD_KEY_ACCESS,
    })
}

/// Legacy first key, last key and step for `RedisModule_CreateCommand` (0 0 0 when the
/// command reports its keys itself).
pub(super) fn legacy_key_positions(keys: &KeySpec) -> (c_int, c_int, c_int) {
    match *keys {
        KeySpec::One { at } => (at, at, 1),
        KeySpec::Counted { .. } => (0, 0, 0),
    }
}

/// # Safety
/// `command` must come from `RedisModule_GetCommand` during module load.
pub(super) unsafe fn describe(
    command: *mut RedisModuleCommand,
    spec: &CommandSpec,
) -> Result<(), Error> {
    let mut key_specs = [
        key_spec(&spec.keys, key_flags(&spec.key_access)),
        key_spec_end(),
    ];
    // Nested argument arrays live in `arena` (moving a Vec keeps its buffer in place).
    let mut arena = Vec::new();
    let mut args = c_args(spec.args, &mut arena);
    let info = RedisModuleCommandInfo {
        version: &VERSION,
        summary: spec.summary.as_ptr(),
        complexity: spec.complexity.as_ptr(),
        since: spec.since.as_ptr(),
        history: null_mut(),
        tips: null(),
        arity: spec.arity,
        key_specs: key_specs.as_mut_ptr(),
        args: args.as_mut_ptr(),
    };
    // SAFETY: `command` is valid (caller); every pointer in `info` points into `key_specs`,
    // `args`, `arena` or static strings, all alive until the call returns; Redis copies them.
    if unsafe { redis_api!(RedisModule_SetCommandInfo(command, &info)) }? != OK {
        return Err(Error::Internal);
    }
    Ok(())
}

fn key_spec(keys: &KeySpec, flags: u64) -> RedisModuleCommandKeySpec {
    let (begin_at, find_keys_type, fk, flags) = match *keys {
        KeySpec::One { at } => (
            at,
            FK_RANGE,
            FindKeys {
                range: FindRange {
                    lastkey: 0,
                    keystep: 1,
                    limit: 0,
                },
            },
            flags,
        ),
        KeySpec::Counted { count_at, step } => (
            count_at,
            FK_KEYNUM,
            FindKeys {
                keynum: FindKeyNum {
                    keynumidx: 0,
                    firstkey: 1,
                    keystep: step,
                },
            },
            // Redis asks the command (getkeys-api) instead of trusting the spec's count.
            flags | u64::from(REDISMODULE_CMD_KEY_VARIABLE_FLAGS),
        ),
    };
    RedisModuleCommandKeySpec {
        notes: null(),
        flags,
        begin_search_type: BS_INDEX,
        bs: BeginSearch {
            index: BeginIndex { pos: begin_at },
        },
        find_keys_type,
        fk,
    }
}

/// The terminator of a key spec array.
fn key_spec_end() -> RedisModuleCommandKeySpec {
    RedisModuleCommandKeySpec {
        notes: null(),
        flags: 0,
        begin_search_type: BS_INVALID,
        bs: BeginSearch {
            index: BeginIndex { pos: 0 },
        },
        find_keys_type: 0,
        fk: FindKeys {
            range: FindRange {
                lastkey: 0,
                keystep: 0,
                limit: 0,
            },
        },
    }
}

/// The C array for `args`, terminated; sub-arrays are kept alive in `arena`.
fn c_args(
    args: &[ArgSpec],
    arena: &mut Vec<Vec<RedisModuleCommandArg>>,
) -> Vec<RedisModuleCommandArg> {
    let mut out: Vec<RedisModuleCommandArg> = args
        .iter()
        .map(|arg| {
            let subargs = if arg.subargs.is_empty() {
                null_mut()
            } else {
                let mut nested = c_args(arg.subargs, arena);
                let ptr = nested.as_mut_ptr();
                arena.push(nested);
                ptr
            };
            let mut flags = 0;
            if arg.optional {
                flags |= REDISMODULE_CMD_ARG_OPTIONAL;
            }
            if arg.multiple {
                flags |= REDISMODULE_CMD_ARG_MULTIPLE;
            }
            RedisModuleCommandArg {
                name: arg.name.as_ptr(),
                type_: arg_type(arg.kind),
                // The commands have one key spec; every key argument refers to it.
                key_spec_index: if arg.kind == ArgKind::Key { 0 } else { -1 },
                token: arg.token.map_or(null(), CStr::as_ptr),
                summary: arg.summary.map_or(null(), CStr::as_ptr),
                since: null(),
                flags: flags as c_int,
                deprecated_since: null(),
                subargs,
                display_text: null(),
            }
        })
        .collect();
    out.push(RedisModuleCommandArg {
        name: null(),
        type_: STRING,
        key_spec_index: 0,
        token: null(),
        summary: null(),
        since: null(),
        flags: 0,
        deprecated_since: null(),
        subargs: null_mut(),
        display_text: null(),
    });
    out
}

fn arg_type(kind: ArgKind) -> RedisModuleCommandArgType {
    match kind {
        ArgKind::Key => KEY,
        ArgKind::Integer => INTEGER,
        ArgKind::Double => DOUBLE,
        ArgKind::PureToken => PURE_TOKEN,
        ArgKind::Block => BLOCK,
        ArgKind::OneOf => ONEOF,
    }
}
