//! What COMMAND DOCS, COMMAND INFO and COMMAND GETKEYS say about our commands, given to
//! Redis through RedisModule_SetCommandInfo (Redis 7.0+), which copies everything it is given.
//!
//! The key specs matter beyond docs: CL.THROTTLEALL's keys sit every 4th argument after a
//! count, which only a key spec can declare, and cluster routing and CROSSSLOT checks use it.

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
    RedisModuleCommandArgType_REDISMODULE_ARG_TYPE_PURE_TOKEN as PURE_TOKEN,
    RedisModuleCommandHistoryEntry, RedisModuleCommandInfo, RedisModuleCommandInfoVersion,
    RedisModuleCommandKeySpec, RedisModuleCommandKeySpec__bindgen_ty_1 as BeginSearch,
    RedisModuleCommandKeySpec__bindgen_ty_1__bindgen_ty_1 as BeginIndex,
    RedisModuleCommandKeySpec__bindgen_ty_2 as FindKeys,
    RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_1 as FindRange,
    RedisModuleCommandKeySpec__bindgen_ty_2__bindgen_ty_2 as FindKeyNum,
    RedisModuleKeySpecBeginSearchType_REDISMODULE_KSPEC_BS_INDEX as BS_INDEX,
    RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_KEYNUM as FK_KEYNUM,
    RedisModuleKeySpecFindKeysType_REDISMODULE_KSPEC_FK_RANGE as FK_RANGE,
    REDISMODULE_CMD_ARG_MULTIPLE, REDISMODULE_CMD_ARG_NONE, REDISMODULE_CMD_ARG_OPTIONAL,
    REDISMODULE_CMD_KEY_ACCESS, REDISMODULE_CMD_KEY_RW, REDISMODULE_CMD_KEY_UPDATE,
    REDISMODULE_CMD_KEY_VARIABLE_FLAGS,
};

use crate::error::Error;
use crate::ffi::{redis_api, OK};

/// Redis reads our arrays with these strides, so newer struct layouts work on older servers.
const VERSION: RedisModuleCommandInfoVersion = RedisModuleCommandInfoVersion {
    version: 1,
    sizeof_historyentry: size_of::<RedisModuleCommandHistoryEntry>(),
    sizeof_keyspec: size_of::<RedisModuleCommandKeySpec>(),
    sizeof_arg: size_of::<RedisModuleCommandArg>(),
};

/// The module version that introduced both commands.
const SINCE: &CStr = c"0.1.0";

/// The limiter key is read and rewritten (a read-modify-write of its value).
const KEY_FLAGS: u64 =
    (REDISMODULE_CMD_KEY_RW | REDISMODULE_CMD_KEY_ACCESS | REDISMODULE_CMD_KEY_UPDATE) as u64;

fn arg(name: &'static CStr, type_: RedisModuleCommandArgType, flags: u32) -> RedisModuleCommandArg {
    RedisModuleCommandArg {
        name: name.as_ptr(),
        type_,
        key_spec_index: -1,
        token: null(),
        summary: null(),
        since: null(),
        flags: flags as c_int,
        deprecated_since: null(),
        subargs: null_mut(),
        display_text: null(),
    }
}

fn key_arg(name: &'static CStr) -> RedisModuleCommandArg {
    RedisModuleCommandArg {
        key_spec_index: 0,
        ..arg(name, KEY, REDISMODULE_CMD_ARG_NONE)
    }
}

fn ms_token() -> RedisModuleCommandArg {
    RedisModuleCommandArg {
        token: c"MS".as_ptr(),
        summary: c"reply retry_after and reset_after in milliseconds".as_ptr(),
        ..arg(c"ms", PURE_TOKEN, REDISMODULE_CMD_ARG_OPTIONAL)
    }
}

/// The arguments every limit takes after its key.
fn limit_args() -> [RedisModuleCommandArg; 3] {
    [
        RedisModuleCommandArg {
            summary: c"extra requests allowed at once; capacity is max_burst + 1".as_ptr(),
            ..arg(c"max_burst", INTEGER, REDISMODULE_CMD_ARG_NONE)
        },
        RedisModuleCommandArg {
            summary: c"requests allowed per period".as_ptr(),
            ..arg(c"count", INTEGER, REDISMODULE_CMD_ARG_NONE)
        },
        RedisModuleCommandArg {
            summary: c"period in seconds, up to 9 decimals".as_ptr(),
            ..arg(c"period", DOUBLE, REDISMODULE_CMD_ARG_NONE)
        },
    ]
}

fn quantity_arg() -> RedisModuleCommandArg {
    RedisModuleCommandArg {
        summary: c"tokens to take (default 1); 0 peeks, negative refunds".as_ptr(),
        ..arg(c"quantity", INTEGER, REDISMODULE_CMD_ARG_OPTIONAL)
    }
}

/// Arrays given to Redis end with an all-zero element.
fn end<T>() -> T {
    // SAFETY: only used for the plain C structs above, whose all-zero value is the terminator.
    unsafe { std::mem::zeroed() }
}

fn key_spec(
    begin_at: c_int,
    find_keys_type: u32,
    fk: FindKeys,
    flags: u64,
) -> RedisModuleCommandKeySpec {
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

unsafe fn set_info(
    command: *mut RedisModuleCommand,
    summary: &CStr,
    complexity: &CStr,
    arity: c_int,
    key_specs: &mut [RedisModuleCommandKeySpec],
    args: &mut [RedisModuleCommandArg],
) -> Result<(), Error> {
    let info = RedisModuleCommandInfo {
        version: &VERSION,
        summary: summary.as_ptr(),
        complexity: complexity.as_ptr(),
        since: SINCE.as_ptr(),
        history: null_mut(),
        tips: null(),
        arity,
        key_specs: key_specs.as_mut_ptr(),
        args: args.as_mut_ptr(),
    };
    if redis_api!(RedisModule_SetCommandInfo(command, &info))? != OK {
        return Err(Error::Internal);
    }
    Ok(())
}

/// `CL.THROTTLE key max_burst count period [quantity] [MS]`
///
/// # Safety
/// `command` must come from RedisModule_GetCommand during module load.
pub unsafe fn describe_throttle(command: *mut RedisModuleCommand) -> Result<(), Error> {
    let [max_burst, count, period] = limit_args();
    let mut args = [
        key_arg(c"key"),
        max_burst,
        count,
        period,
        quantity_arg(),
        ms_token(),
        end(),
    ];
    let range = FindKeys {
        range: FindRange {
            lastkey: 0,
            keystep: 1,
            limit: 0,
        },
    };
    let mut key_specs = [key_spec(1, FK_RANGE, range, KEY_FLAGS), end()];
    set_info(
        command,
        c"Rate limits a key with the generic cell rate algorithm (GCRA), like redis-cell",
        c"O(1)",
        -5,
        &mut key_specs,
        &mut args,
    )
}

/// `CL.THROTTLEALL numlimits key max_burst count period [key ...] [quantity] [MS]`
///
/// # Safety
/// `command` must come from RedisModule_GetCommand during module load.
pub unsafe fn describe_throttle_all(command: *mut RedisModuleCommand) -> Result<(), Error> {
    let [max_burst, count, period] = limit_args();
    let mut group = [key_arg(c"key"), max_burst, count, period, end()];
    let limits = RedisModuleCommandArg {
        subargs: group.as_mut_ptr(),
        ..arg(c"limit", BLOCK, REDISMODULE_CMD_ARG_MULTIPLE)
    };
    let numlimits = RedisModuleCommandArg {
        summary: c"how many key max_burst count period groups follow".as_ptr(),
        ..arg(c"numlimits", INTEGER, REDISMODULE_CMD_ARG_NONE)
    };
    let mut args = [numlimits, limits, quantity_arg(), ms_token(), end()];
    // From the numlimits argument: the count is at +0, the first key at +1, then every 4th.
    // Redis 7.0 miscounts keynum specs whose step is not 1, so VARIABLE_FLAGS makes it ask
    // our getkeys callback (command::throttle_all_command) instead; the spec documents them.
    let keynum = FindKeys {
        keynum: FindKeyNum {
            keynumidx: 0,
            firstkey: 1,
            keystep: 4,
        },
    };
    let flags = KEY_FLAGS | u64::from(REDISMODULE_CMD_KEY_VARIABLE_FLAGS);
    let mut key_specs = [key_spec(1, FK_KEYNUM, keynum, flags), end()];
    set_info(
        command,
        c"Counts one request against several limits atomically: allowed only if all allow it",
        c"O(N) where N is numlimits, plus the total bytes of the keys",
        -6,
        &mut key_specs,
        &mut args,
    )
}
