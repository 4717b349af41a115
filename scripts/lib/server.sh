# Throwaway redis-server processes on 127.0.0.1: the one way scripts/run, soak, examples and
# bench start and stop a server. Each server runs daemonized in its own directory (log and
# pidfile there) and is stopped by the PID in that pidfile.
#
# Sourced:        start_server DIR PORT [redis-server args...]   (waits until it answers PING)
#                 stop_server DIR
#                 throwaway_server [args...]          (free port, temp dir, stopped when the
#                                                     script exits; sets $port)
#                 throwaway_module_server [args...]   (the same, with the module loaded)
#                 free_redis_port
# As a command:   scripts/lib/server.sh start DIR PORT [args...] | stop DIR   (for scripts/bench)
#
# The binary is $REDIS_SERVER (default redis-server); $SERVER_CPUS, if set, pins it with taskset;
# $SERVER_WRAPPER, if set, is a command line the server runs under (split on spaces, e.g.
# "valgrind --tool=callgrind" for scripts/bench --instructions); $SERVER_WAIT is how many
# seconds to wait for the first PING (default 10).

. "$(dirname "${BASH_SOURCE[0]}")/log.sh"

MODULE_SO="${CARGO_TARGET_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/target}/release/libredis_gcra.so"

# A port on 127.0.0.1 where nothing listens, below Linux's ephemeral range (32768+) so that no
# outgoing connection takes it as its source port before the server binds it.
free_redis_port() {
    local port=$((10000 + RANDOM % 20000))
    # Anything listening counts (another tool's server that is still starting, say).
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    echo "$port"
}

start_server() {
    local dir=$1 port=$2
    shift 2
    mkdir -p "$dir"
    rm -f "$dir/server.pid"
    local pin=() wrapper=()
    [ -n "${SERVER_CPUS:-}" ] && pin=(taskset -c "$SERVER_CPUS")
    [ -n "${SERVER_WRAPPER:-}" ] && read -r -a wrapper <<<"$SERVER_WRAPPER"
    local server=("${pin[@]}" "${wrapper[@]}" "${REDIS_SERVER:-redis-server}"
        --bind 127.0.0.1 --port "$port" --dir "$dir" --daemonize yes
        --logfile "$dir/server.log" --pidfile "$dir/server.pid" "$@")
    if [ ${#wrapper[@]} -gt 0 ]; then
        # A wrapper such as valgrind loses track of a server that daemonizes (forks): run it
        # in the foreground, in the background of this shell (it still writes the pidfile).
        "${server[@]}" --daemonize no </dev/null >>"$dir/wrapper.log" 2>&1 &
    else
        "${server[@]}" || die "redis-server did not start; see $dir/server.log"
    fi
    for _ in $(seq $((${SERVER_WAIT:-10} * 10))); do
        redis-cli -p "$port" PING >/dev/null 2>&1 && [ -s "$dir/server.pid" ] && return 0
        sleep 0.1
    done
    tail -n 5 "$dir/server.log" >&2 2>/dev/null
    die "redis-server on port $port did not answer; see $dir/server.log"
}

stop_server() {
    local dir=$1 pid
    pid=$(cat "$dir/server.pid" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
}

throwaway_dirs=()
stop_throwaway_servers() {
    local dir
    for dir in "${throwaway_dirs[@]}"; do
        stop_server "$dir"
        rm -rf "$dir"
    done
}

throwaway_server() {
    port=$(free_redis_port)
    local dir
    dir=$(mktemp -d)
    throwaway_dirs+=("$dir")
    trap stop_throwaway_servers EXIT
    start_server "$dir" "$port" --save '' --appendonly no "$@"
}

throwaway_module_server() {
    [ -f "$MODULE_SO" ] || die "module not built: $MODULE_SO (cargo build --release)"
    throwaway_server --loadmodule "$MODULE_SO" "$@"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        start) shift; start_server "$@" ;;
        stop) stop_server "$2" ;;
        *) die "usage: $0 start DIR PORT [redis-server args...] | stop DIR" ;;
    esac
fi
