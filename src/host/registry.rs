//! What a module registers while it loads: its commands (with their docs, key specs and
//! ACL categories), its INFO section and its configuration watcher.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::os::raw::c_int;
use std::ptr::NonNull;

use redis_module::raw::{
    RedisModuleCtx, RedisModuleEvent, REDISMODULE_EVENT_CONFIG,
    REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED,
};

use super::call::{entry, Command};
use super::command_info::{describe, legacy_key_positions};
use super::events::{config_entry, info_entry, ConfigWatcher, InfoSource};
use super::server::Server;
use super::strings::intern_pxat;
use super::{has_api, redis_api, OK};

/// The module while it loads: what it registers.
pub struct Loading<'a> {
    ctx: NonNull<RedisModuleCtx>,
    _frame: PhantomData<&'a ()>,
}

/// Why a command could not be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterError {
    /// Another module defines a command of that name.
    NameTaken,
    /// The server refused the command's docs or key specs.
    Describe,
}

/// Every API the module calls: checked at load, so no call can miss one later.
fn has_every_api() -> bool {
    [
        has_api!(RedisModule_CreateCommand),
        has_api!(RedisModule_GetCommand),
        has_api!(RedisModule_SetCommandInfo),
        has_api!(RedisModule_SetModuleOptions),
        has_api!(RedisModule_CreateString),
        has_api!(RedisModule_FreeString),
        has_api!(RedisModule_RegisterInfoFunc),
        has_api!(RedisModule_InfoAddSection),
        has_api!(RedisModule_InfoAddFieldULongLong),
        has_api!(RedisModule_StringPtrLen),
        has_api!(RedisModule_OpenKey),
        has_api!(RedisModule_CloseKey),
        has_api!(RedisModule_KeyType),
        has_api!(RedisModule_StringDMA),
        has_api!(RedisModule_StringTruncate),
        has_api!(RedisModule_SetAbsExpire),
        has_api!(RedisModule_DeleteKey),
        has_api!(RedisModule_Replicate),
        has_api!(RedisModule_NotifyKeyspaceEvent),
        has_api!(RedisModule_SignalModifiedKey),
        has_api!(RedisModule_GetUsedMemoryRatio),
        has_api!(RedisModule_IsKeysPositionRequest),
        has_api!(RedisModule_KeyAtPos),
        has_api!(RedisModule_ReplyWithArray),
        has_api!(RedisModule_ReplyWithLongLong),
        has_api!(RedisModule_ReplyWithError),
        has_api!(RedisModule_GetContextFlags),
        has_api!(RedisModule_BlockClient),
        has_api!(RedisModule_UnblockClient),
        has_api!(RedisModule_GetBlockedClientPrivateData),
        has_api!(RedisModule_CreateTimer),
        has_api!(RedisModule_StopTimer),
        has_api!(RedisModule_SetDisconnectCallback),
    ]
    .iter()
    .all(|&present| present)
}

impl Loading<'_> {
    /// # Safety
    /// `ctx` must be a load context, valid for the returned value's lifetime.
    pub(super) unsafe fn new<'a>(ctx: NonNull<RedisModuleCtx>) -> Loading<'a> {
        Loading {
            ctx,
            _frame: PhantomData,
        }
    }

    pub(super) fn ctx(&self) -> *mut RedisModuleCtx {
        self.ctx.as_ptr()
    }

    pub fn server(&self) -> Server<'_> {
        // SAFETY: the load context, valid as long as `self`.
        unsafe { Server::new(self.ctx) }
    }

    /// What the host needs before any command runs: every API, the module option that keeps
    /// an open-for-writing key from counting as modified, and the interned PXAT argument.
    pub(super) fn prepare(&self) -> Result<(), &'static CStr> {
        const TOO_OLD: &CStr =
            c"redis-gcra: not loaded: this server is too old (Redis 7.0 or newer is needed)";
        if !has_every_api() {
            return Err(TOO_OLD);
        }
        let ctx = self.ctx.as_ptr();
        let option = REDISMODULE_OPTION_NO_IMPLICIT_SIGNAL_MODIFIED as c_int;
        // SAFETY: the load context.
        unsafe { redis_api!(RedisModule_SetModuleOptions(ctx, option)) }.map_err(|_| TOO_OLD)?;
        intern_pxat().ok_or(TOO_OLD)?;
        Ok(())
    }

    /// Registers `C` as its spec says: name, flags, key positions, docs and ACL categories.
    pub fn register_command<C: Command>(&self) -> Result<(), RegisterError> {
        let spec = &C::SPEC;
        let ctx = self.ctx.as_ptr();
        let (first, last, step) = legacy_key_positions(&spec.keys);
        // SAFETY: the load context; static C strings; `entry::<C>` lives as long as the module.
        let created = unsafe {
            redis_api!(RedisModule_CreateCommand(
                ctx,
                spec.name.as_ptr(),
                Some(entry::<C>),
                spec.flags.as_ptr(),
                first,
                last,
                step,
            ))
        };
        // SAFETY: the load context and a static name.
        let command = unsafe { redis_api!(RedisModule_GetCommand(ctx, spec.name.as_ptr())) };
        let command = match (created, command) {
            (Ok(OK), Ok(command)) if !command.is_null() => command,
            // CreateCommand fails for valid names and flags only when the name is taken.
            _ => return Err(RegisterError::NameTaken),
        };
        // SAFETY: `command` was just returned by GetCommand during load.
        unsafe { describe(command, spec) }.map_err(|_| RegisterError::Describe)?;
        // SAFETY: a plain read of a function pointer set at load (absent on Redis 7.0).
        let set_categories = unsafe { redis_module::raw::RedisModule_SetCommandACLCategories };
        if let Some(set_categories) = set_categories {
            // SAFETY: `command` is valid; the categories are a static C string.
            if unsafe { set_categories(command, spec.acl_categories.as_ptr()) } != OK {
                self.server().log_warning(
                    c"redis-gcra: could not set ACL categories; continuing without them",
                );
            }
        }
        Ok(())
    }

    /// Registers `S` as the module's INFO section.
    pub fn register_info<S: InfoSource>(&self) -> Result<(), RegisterError> {
        // SAFETY: the load context; `info_entry::<S>` lives as long as the module.
        match unsafe {
            redis_api!(RedisModule_RegisterInfoFunc(
                self.ctx.as_ptr(),
                Some(info_entry::<S>)
            ))
        } {
            Ok(OK) => Ok(()),
            _ => Err(RegisterError::Describe),
        }
    }

    /// Calls `W::changed` after each CONFIG SET (Redis 7.0+ and Valkey; ignored elsewhere).
    pub fn watch_config<W: ConfigWatcher>(&self) {
        let config_event = RedisModuleEvent {
            id: REDISMODULE_EVENT_CONFIG,
            dataver: 1,
        };
        // SAFETY: the load context; `config_entry::<W>` lives as long as the module.
        let _ = unsafe {
            redis_api!(RedisModule_SubscribeToServerEvent(
                self.ctx.as_ptr(),
                config_event,
                Some(config_entry::<W>)
            ))
        };
    }
}
