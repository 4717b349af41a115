# Sourced by scripts/memcheck: servers under valgrind memcheck, and the verdict on what valgrind
# saw. One directory of logs per server of the matrix:
#
#   memcheck_preload DIR                  compiles the allocator shim (below) into DIR; prints
#                                         its path
#   memcheck_wrapper DIR BINARY PRELOAD   writes DIR/redis-server, which runs BINARY under
#                                         valgrind: one log per process (DIR/server-<pid>.log,
#                                         forked children too) and one line per start in
#                                         DIR/started (pid, server log, arguments)
#   memcheck_probe NAME BINARY DIR MODULE starts DIR/redis-server once with the module and
#                                         sends it calls: dies unless the module loads and
#                                         valgrind sees the server's own allocations
#   memcheck_judge NAME DIR               the verdict on DIR's logs; returns 1 (after saying
#                                         why) on a memory error with the module in its stack,
#                                         a server that crashed, or one started with the
#                                         module that never loaded it
#
# Why a shim: memcheck finds a use-after-free only in blocks it allocated itself, so it must
# replace the allocator the server really calls.
# - Redis 7.0 and Valkey 8.0 (Debian) link the shared libjemalloc.so.2. valgrind replaces its
#   malloc, calloc, realloc, free and malloc_usable_size (the global malloc; we also pass
#   --soname-synonyms=somalloc=*jemalloc* for valgrinds that look only in libc), but not
#   jemalloc's sized free sdallocx, which Valkey 8.0 calls: jemalloc then gets a block valgrind
#   allocated and Valkey dies in initServerConfig (a null read in libjemalloc) before any module
#   loads. The shim's sdallocx frees through free; its nallocx answers the requested size,
#   as valgrind's malloc_usable_size does, so no server counts on more room than it got.
# - Redis 8.2 (the PyPI wheel) links jemalloc statically with a je_ prefix: valgrind replaces
#   no function of it and sees only the C library's few hundred allocations. The shim gives
#   valgrind replacements for the executable's je_ entry points (valgrind.h's
#   I_REPLACE_SONAME_FNNAME_ZU(NONE, fn): soname NONE is the main executable), each forwarding
#   to malloc & co., which valgrind replaces. Redis's code calls jemalloc only through these
#   (checked with objdump on 8.2.3: no jemalloc internals inlined into it).
# The probe checks the result on every run, whatever the binary.

. "$(dirname "${BASH_SOURCE[0]}")/log.sh"
. "$(dirname "${BASH_SOURCE[0]}")/server.sh"

# Calls the probe sends; valgrind must see at least this many allocations for the server to
# count as visible (a server whose allocator valgrind misses shows ~200, from the C library).
MEMCHECK_PROBE_CALLS=2000

memcheck_preload() {
    local dir=$1
    mkdir -p "$dir"
    cc -shared -fPIC -O2 -Wall -Werror -o "$dir/memcheck-alloc.so" -x c - <<'SHIM' || die "could not compile the valgrind allocator shim (needs cc)"
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* Shared libjemalloc (Redis 7.0, Valkey 8.0): interposed by LD_PRELOAD. */
void sdallocx(void *ptr, size_t size, int flags) { (void)size; (void)flags; free(ptr); }
size_t nallocx(size_t size, int flags) { (void)flags; return size; }

/* Static jemalloc with a je_ prefix (Redis 8.2): valgrind replacements in the executable. */
#define R(fn) _vgr00000ZU_NONE_##fn
void *R(je_malloc)(size_t size) { return malloc(size); }
void *R(je_calloc)(size_t n, size_t size) { return calloc(n, size); }
void *R(je_realloc)(void *ptr, size_t size) { return realloc(ptr, size); }
void R(je_free)(void *ptr) { free(ptr); }
size_t R(je_malloc_usable_size)(void *ptr) { return malloc_usable_size(ptr); }
int R(je_posix_memalign)(void **out, size_t align, size_t size) { return posix_memalign(out, align, size); }
void *R(je_aligned_alloc)(size_t align, size_t size) { return aligned_alloc(align, size); }
void *R(je_memalign)(size_t align, size_t size) { return memalign(align, size); }
void *R(je_valloc)(size_t size) { return valloc(size); }
/* flags: the low 6 bits are log2 of the alignment, 0x40 asks for zeroed memory. */
void *R(je_mallocx)(size_t size, int flags) {
    void *ptr = NULL;
    size_t align = (flags & 0x3f) ? (size_t)1 << (flags & 0x3f) : 0;
    if (align > 16) {
        if (posix_memalign(&ptr, align, size) != 0) ptr = NULL;
    } else {
        ptr = malloc(size);
    }
    if (ptr != NULL && (flags & 0x40)) memset(ptr, 0, size);
    return ptr;
}
void *R(je_rallocx)(void *ptr, size_t size, int flags) { (void)flags; return realloc(ptr, size); }
void R(je_dallocx)(void *ptr, int flags) { (void)flags; free(ptr); }
void R(je_sdallocx)(void *ptr, size_t size, int flags) { (void)size; (void)flags; free(ptr); }
size_t R(je_nallocx)(size_t size, int flags) { (void)flags; return size; }
size_t R(je_sallocx)(const void *ptr, int flags) { (void)flags; return malloc_usable_size((void *)ptr); }
size_t R(je_xallocx)(void *ptr, size_t size, size_t extra, int flags) {
    (void)size; (void)extra; (void)flags;
    return malloc_usable_size(ptr);
}
/* Redis 8's additions to its jemalloc: the usable size comes back with the call. */
void *R(je_malloc_with_usize)(size_t size, size_t *usize) {
    void *ptr = malloc(size);
    if (ptr != NULL && usize != NULL) *usize = size;
    return ptr;
}
void *R(je_calloc_with_usize)(size_t n, size_t size, size_t *usize) {
    void *ptr = calloc(n, size);
    if (ptr != NULL && usize != NULL) *usize = n * size;
    return ptr;
}
void *R(je_realloc_with_usize)(void *ptr, size_t size, size_t *old_usize, size_t *usize) {
    if (old_usize != NULL) *old_usize = ptr != NULL ? malloc_usable_size(ptr) : 0;
    void *moved = realloc(ptr, size);
    if (moved != NULL && usize != NULL) *usize = size;
    return moved;
}
void R(je_free_with_usize)(void *ptr, size_t *usize) {
    if (usize != NULL) *usize = ptr != NULL ? malloc_usable_size(ptr) : 0;
    free(ptr);
}
/* Active defragmentation: never move a block. */
int R(je_get_defrag_hint)(void *ptr) { (void)ptr; return 0; }
SHIM
    echo "$dir/memcheck-alloc.so"
}

memcheck_wrapper() {
    local dir=$1 binary=$2 preload=$3
    mkdir -p "$dir"
    : >"$dir/started"
    # -v makes valgrind log each object it maps ("Reading syms from ...libredis_gcra.so"): the
    # judge's proof that the module was in the process while valgrind watched.
    cat >"$dir/redis-server" <<WRAPPER
#!/bin/sh
# $binary under valgrind memcheck (written by scripts/lib/memcheck.sh).
dir=\$PWD logfile= prev=
for arg in "\$@"; do
    case "\$prev" in --dir) dir=\$arg ;; --logfile) logfile=\$arg ;; esac
    prev=\$arg
done
case "\$dir" in /*) ;; *) dir=\$PWD/\$dir ;; esac
case "\$logfile" in /* | "") log=\$logfile ;; *) log=\$dir/\$logfile ;; esac
printf '%s\t%s\t%s\n' "\$\$" "\$log" "\$*" >>'$dir/started'
LD_PRELOAD='$preload'\${LD_PRELOAD:+:\$LD_PRELOAD} exec valgrind --tool=memcheck -v \\
    --track-origins=yes '--soname-synonyms=somalloc=*jemalloc*' \\
    --log-file='$dir/server-%p.log' '$binary' "\$@"
WRAPPER
    chmod +x "$dir/redis-server"
}

# How the binary gets its allocator, from its dynamic symbols and libraries.
memcheck_allocator() {
    local binary=$1 libs symbols
    # Captured first: `ldd | grep -q` fails under pipefail when grep stops reading early.
    libs=$(ldd "$binary" 2>/dev/null || true)
    symbols=$(nm "$binary" 2>/dev/null || true)
    if [[ "$libs" == *libjemalloc* ]]; then
        echo "jemalloc, shared ($(awk '/libjemalloc/ { print $1; exit }' <<<"$libs"))"
    elif grep -qE ' T je_malloc$' <<<"$symbols"; then
        echo "jemalloc, static (je_ prefix)"
    else
        echo "the C library's malloc"
    fi
}

memcheck_probe() {
    local name=$1 binary=$2 dir=$3 module=$4
    local port pid allocs version
    version=$("$binary" --version | head -n 1)
    port=$(free_redis_port)
    mkdir -p "$dir/probe"
    "$dir/redis-server" --bind 127.0.0.1 --port "$port" --dir "$dir/probe" --daemonize no \
        --save '' --appendonly no --logfile server.log --loadmodule "$module" \
        </dev/null >"$dir/probe/stdout.log" 2>&1 &
    pid=$!
    for _ in $(seq 600); do
        redis-cli -p "$port" PING >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if ! redis-cli -p "$port" PING >/dev/null 2>&1; then
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        grep -v '^--' "$dir/server-$pid.log" 2>/dev/null \
            | grep -m1 -A14 -E '== (Invalid|Conditional|Use of|Process terminating)' >&2 || true
        die "$name ($version) did not start under valgrind (see $dir/server-$pid.log and $dir/probe/server.log)"
    fi
    grep -q "Module 'gcra' loaded" "$dir/probe/server.log" \
        || die "$name ($version) started under valgrind without loading the module; see $dir/probe/server.log"
    for i in $(seq "$MEMCHECK_PROBE_CALLS"); do
        echo "CL.THROTTLE probe:$i 10 1 60"
    done | redis-cli -p "$port" >"$dir/probe/replies.log" 2>&1
    [ "$(grep -cx 0 "$dir/probe/replies.log")" -ge "$MEMCHECK_PROBE_CALLS" ] \
        || die "$name: the probe's calls failed under valgrind; see $dir/probe/replies.log"
    redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    allocs=$(sed -nE 's/.*total heap usage: ([0-9,]+) allocs.*/\1/p' "$dir/server-$pid.log" | tr -d ,)
    allocs=${allocs:-0}
    say "$name ($version): allocator: $(memcheck_allocator "$binary")"
    if [ "$allocs" -lt "$MEMCHECK_PROBE_CALLS" ]; then
        die "$name: valgrind saw only $allocs allocations for $MEMCHECK_PROBE_CALLS calls that each create a key: it does not see this server's allocator, so a use-after-free in memory the server allocates would go unseen (docs/reliability.md)"
    fi
    say "$name: valgrind saw $allocs allocations for $MEMCHECK_PROBE_CALLS calls: memcheck sees a use-after-free in memory the server allocates (and in the module's, which uses the server's allocator)"
}

# Each error report starts with its kind ("Invalid read of size 8", ...) and ends at a blank
# line; it is logged the moment it happens. -v adds its own messages ("--pid--" lines, and
# warnings right before a report) and lists the reports again after the ERROR SUMMARY at exit,
# which is cut off here. Prints the reports, each followed by a blank line.
memcheck_reports() {
    local dir=$1 logs
    logs=("$dir"/server-*.log)
    [ -e "${logs[0]}" ] || return 0
    awk '
        FNR == 1 { if (inside) print ""; done = 0; inside = 0 }
        /ERROR SUMMARY/ { done = 1 }
        done || /^--[0-9]+--/ { next }
        { sub(/^==[0-9]+== ?/, "") }
        /^(Invalid (read|write|free)|Conditional jump|Use of uninitialised|Syscall param|Mismatched free|Source and destination overlap)/ {
            if (inside) print ""
            inside = 1
        }
        inside && /^$/ { print ""; inside = 0; next }
        inside { print }
        END { if (inside) print "" }
    ' "${logs[@]}"
}

memcheck_judge() {
    local name=$1 dir=$2
    local started=0 loaded=0 lost_port=0 children problems=() pid log args vg
    while IFS=$'\t' read -r pid log args; do
        started=$((started + 1))
        vg="$dir/server-$pid.log"
        if [ ! -s "$vg" ]; then
            problems+=("server $pid: no valgrind log (it did not start under valgrind)")
            continue
        fi
        if grep -q 'Reading syms from .*libredis_gcra' "$vg"; then
            loaded=$((loaded + 1))
        elif [[ " $args " == *" --loadmodule "* ]]; then
            if [ -n "$log" ] && grep -q 'Address already in use' "$log" 2>/dev/null; then
                lost_port=$((lost_port + 1)) # the tests start it again on another port
            else
                problems+=("server $pid: started with --loadmodule but never loaded the module under valgrind; see $vg and ${log:-its log}")
            fi
        fi
    done <"$dir/started"
    children=$(($(find "$dir" -maxdepth 1 -name 'server-*.log' | wc -l) - started))
    local crash
    while IFS= read -r crash; do
        [ -n "$crash" ] && problems+=("$crash")
    done < <(grep -l 'Process terminating with default action of signal' "$dir"/server-*.log 2>/dev/null \
        | while read -r vg; do
            echo "process of ${vg##*/}: $(grep -m1 -o 'Process terminating with default action of signal [0-9]* ([A-Z]*)' "$vg")"
        done)

    local ours theirs where
    ours=$(memcheck_reports "$dir" | awk -v RS= -v ORS='\n\n' '/redis_gcra/')
    theirs=$(memcheck_reports "$dir" | awk -v RS= '!/redis_gcra/ { n++ } END { print n + 0 }')
    # Where each of the others happened: its first frame.
    where=$(memcheck_reports "$dir" \
        | awk -v RS= '!/redis_gcra/ && match($0, /at 0x[0-9A-F]+: [A-Za-z_0-9]+/) {
            n = split(substr($0, RSTART, RLENGTH), f, " "); print f[n] }' \
        | sort -u | paste -sd ' ' -)
    say "$name: $started servers started under valgrind ($children forked children), $loaded with the module loaded, $lost_port lost their port and were started again"
    say "$name: $theirs reports outside the module${where:+ (the server itself: $where)}"
    if [ "$loaded" -eq 0 ]; then
        problems+=("no server under valgrind loaded the module: nothing of the module was checked")
    fi
    if [ -n "$ours" ]; then
        printf '%s\n' "$ours" >"$dir/ours.txt"
        sed -n 1,80p "$dir/ours.txt" >&2
        problems+=("$(grep -cE '^(Invalid|Conditional|Use of|Syscall|Mismatched|Source)' "$dir/ours.txt") memory errors with the module in their stacks (above; all in $dir/ours.txt)")
    fi
    if [ ${#problems[@]} -gt 0 ]; then
        local problem
        for problem in "${problems[@]}"; do printf 'error: %s: %s\n' "$name" "$problem" >&2; done
        return 1
    fi
    say "$name: no memory errors in the module's code; logs in $dir"
}
