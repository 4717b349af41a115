//! Warns the operator when the server's eviction policy can evict limiter keys.
//!
//! Every limiter key has a TTL, so `volatile-*` policies evict limiter keys first and
//! `allkeys-*` policies evict them like any other key. An evicted limiter is a full bucket:
//! its limit resets silently, which fails open. Checked at load and after each CONFIG SET of
//! `maxmemory` or `maxmemory-policy`.

#![forbid(unsafe_code)]

use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::host::{ConfigWatcher, Server};

/// Whether the current `maxmemory-policy` evicts keys (anything but `noeviction`): then
/// Redis makes room for writes itself, and the commands do not refuse them.
static EVICTS: AtomicBool = AtomicBool::new(false);

pub fn evicts() -> bool {
    EVICTS.load(Relaxed)
}

/// Checks now (at load) and after each CONFIG SET of the two parameters.
pub struct MemoryPolicy;

impl MemoryPolicy {
    pub fn check(server: &Server<'_>) {
        let Some((policy, maxmemory)) = server.memory_limits() else {
            return;
        };
        EVICTS.store(is_evicting(&policy), Relaxed);
        if let Some((level, text)) = advice(&policy, maxmemory) {
            if let Ok(text) = CString::new(text) {
                match level {
                    Level::Warning => server.log_warning(&text),
                    Level::Notice => server.log_notice(&text),
                }
            }
        }
    }
}

impl ConfigWatcher for MemoryPolicy {
    fn changed(server: &Server<'_>, names: &[&CStr]) {
        let relevant = names
            .iter()
            .any(|name| matches!(name.to_bytes(), b"maxmemory" | b"maxmemory-policy"));
        if relevant {
            MemoryPolicy::check(server);
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Level {
    Warning,
    Notice,
}

fn is_evicting(policy: &[u8]) -> bool {
    policy.starts_with(b"volatile-") || policy.starts_with(b"allkeys-")
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
