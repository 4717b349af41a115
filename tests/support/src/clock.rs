//! A wall clock the servers see frozen, moved by the test: a preloaded shim (compiled with
//! `cc`) answers every CLOCK_REALTIME read with the nanoseconds in a file the test writes, so
//! the module decides at exactly the "now" the test gives a local limiter. Monotonic clocks
//! are left alone (the event loop and timers run in real time). The same shim as scripts/ab.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use super::server::workspace_root;

const SHIM_C: &str = r#"
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static volatile const int64_t *clock_ns;

static int64_t fake_now(void) {
    if (!clock_ns) {
        const char *path = getenv("AB_CLOCK_FILE");
        int fd = path ? open(path, O_RDONLY) : -1;
        void *map = fd >= 0 ? mmap(NULL, 8, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
        if (map == MAP_FAILED) abort();
        close(fd);
        clock_ns = map;
    }
    return *clock_ns;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    if (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE) {
        int64_t now = fake_now();
        ts->tv_sec = now / 1000000000;
        ts->tv_nsec = now % 1000000000;
        return 0;
    }
    return syscall(SYS_clock_gettime, id, ts);
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    if (tv) {
        int64_t now = fake_now();
        tv->tv_sec = now / 1000000000;
        tv->tv_usec = (now % 1000000000) / 1000;
    }
    return 0;
}

time_t time(time_t *t) {
    time_t now = fake_now() / 1000000000;
    if (t) *t = now;
    return now;
}
"#;

/// The frozen clock: `env()` goes into a server's options, `set` moves it.
pub struct FrozenClock {
    library: PathBuf,
    file: PathBuf,
}

impl FrozenClock {
    /// Compiles the shim (once per test process and name) and sets the clock to `start_ns`.
    pub fn new(name: &str, start_ns: i64) -> FrozenClock {
        let dir = workspace_root()
            .join("target/test-servers")
            .join(format!("clock-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("clock dir");
        let source = dir.join("clock.c");
        let library = dir.join("clock.so");
        std::fs::write(&source, SHIM_C).expect("write the clock shim");
        let status = Command::new("cc")
            .args(["-O2", "-shared", "-fPIC", "-o"])
            .arg(&library)
            .arg(&source)
            .status()
            .expect("run cc (the frozen clock needs a C compiler)");
        assert!(status.success(), "cc failed on the clock shim");
        let clock = FrozenClock {
            library,
            file: dir.join("clock"),
        };
        clock.set(start_ns);
        clock
    }

    /// The environment a server needs to see this clock.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("LD_PRELOAD".into(), self.library.display().to_string()),
            ("AB_CLOCK_FILE".into(), self.file.display().to_string()),
        ]
    }

    /// Moves the clock (servers see it at their next read). Written in place: truncating
    /// a file the servers map would make their next read a SIGBUS.
    pub fn set(&self, ns: i64) {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.file)
            .expect("open the clock");
        file.write_all(&ns.to_le_bytes()).expect("write the clock");
    }
}
