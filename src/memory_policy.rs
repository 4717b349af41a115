//! Warns the operator when the server's eviction policy can evict limiter keys.
//!
//! Every limiter key has a TTL, so `volatile-*` policies evict limiter keys first and
//! `allkeys-*` policies evict them like any other key. An evicted limiter is a full bucket:
//! its limit resets silently, which fails open. Checked at load and after each CONFIG SET of
//! `maxmemory` or `maxmemory-policy`.

use std::ffi::{CStr, CString};
use std::os::raw::{c_int, c_void};

use redis_module::raw::{RedisModuleConfigChangeV1, RedisModuleEvent, REDISMODULE_EVENT_CONFIG};

use crate::ffi::{self, redis_api, Ctx};

/// Checks now and after each configuration change (Redis 7.0+ and Valkey send those events).
///
/// # Safety
/// `ctx` must be the context passed to `RedisModule_OnLoad`.
pub unsafe fn watch(ctx: Ctx) {
    check(ctx);
    let config_event = RedisModuleEvent {
        id: REDISMODULE_EVENT_CONFIG,
        dataver: 1,
    };
    let _ = redis_api!(RedisModule_SubscribeToServerEvent(
        ctx,
        config_event,
        Some(on_config_change)
    ));
}

unsafe extern "C" fn on_config_change(ctx: Ctx, _: RedisModuleEvent, _: u64, data: *mut c_void) {
    let change = data.cast::<RedisModuleConfigChangeV1>();
    if change.is_null() || (*change).config_names.is_null() {
        return;
    }
    let Ok(count) = usize::try_from((*change).num_changes) else {
        return;
    };
    let names = std::slice::from_raw_parts((*change).config_names, count);
    let relevant = names.iter().any(|&name| {
        !name.is_null()
            && matches!(
                CStr::from_ptr(name).to_bytes(),
                b"maxmemory" | b"maxmemory-policy"
            )
    });
    if relevant {
        check(ctx);
    }
}

/// Reads `maxmemory` and `maxmemory_policy` from INFO memory and logs the advice, if any.
unsafe fn check(ctx: Ctx) {
    let Ok(info) = redis_api!(RedisModule_GetServerInfo(ctx, c"memory".as_ptr())) else {
        return;
    };
    if info.is_null() {
        return;
    }
    let mut error: c_int = 0;
    let maxmemory = redis_api!(RedisModule_ServerInfoGetFieldUnsigned(
        info,
        c"maxmemory".as_ptr(),
        &mut error
    ));
    let policy = redis_api!(RedisModule_ServerInfoGetFieldC(
        info,
        c"maxmemory_policy".as_ptr()
    ));
    // Copied out before the INFO data (which owns the string) is freed.
    let policy = match policy {
        Ok(ptr) if !ptr.is_null() => CStr::from_ptr(ptr).to_bytes().to_vec(),
        _ => Vec::new(),
    };
    let _ = redis_api!(RedisModule_FreeServerInfo(ctx, info));
    let (Ok(maxmemory), 0) = (maxmemory, error) else {
        return;
    };
    if let Some((level, text)) = advice(&policy, maxmemory) {
        if let Ok(text) = CString::new(text) {
            match level {
                Level::Warning => ffi::log_warning(ctx, &text),
                Level::Notice => ffi::log_notice(ctx, &text),
            }
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Level {
    Warning,
    Notice,
}

/// What to tell the operator about a policy and a memory limit (0: none).
fn advice(policy: &[u8], maxmemory: u64) -> Option<(Level, String)> {
    let name = String::from_utf8_lossy(policy);
    let what = if policy.starts_with(b"volatile-") {
        "evicts keys with a TTL first, and every limiter key has one"
    } else if policy.starts_with(b"allkeys-") {
        "evicts any key, limiter keys included"
    } else {
        return None;
    };
    const WHY: &str = "an evicted limiter is a full bucket, so its limit resets silently (fails open); use maxmemory-policy noeviction or a dedicated instance for limits (README: Running in production)";
    if maxmemory == 0 {
        return Some((
            Level::Notice,
            format!("redis-gcra: maxmemory-policy {name} will evict limiter keys once maxmemory is set (it {what}): {WHY}"),
        ));
    }
    Some((
        Level::Warning,
        format!("redis-gcra: maxmemory-policy {name} with maxmemory {maxmemory} {what}: {WHY}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_evicting_policies_get_advice() {
        assert_eq!(advice(b"noeviction", 1 << 30), None);
        assert_eq!(advice(b"noeviction", 0), None);
        assert_eq!(advice(b"", 1 << 30), None);
        for policy in [
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
        ] {
            let (level, text) = advice(policy.as_bytes(), 100).expect("advice");
            assert_eq!(level, Level::Warning, "{policy}");
            assert!(
                text.contains(policy) && text.contains("noeviction"),
                "{text}"
            );
            let (level, _) = advice(policy.as_bytes(), 0).expect("advice");
            assert_eq!(level, Level::Notice, "{policy}");
        }
        let (_, volatile) = advice(b"volatile-ttl", 1).expect("advice");
        assert!(volatile.contains("TTL first"), "{volatile}");
    }
}
