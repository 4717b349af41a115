# Sourced by scripts/run and scripts/test: makes sure the build and test tools are here.
# Installs Debian packages with apt-get (as root, or through sudo) and rustup components.

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

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

have_libclang() {
    ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 \
        || ls /usr/lib/x86_64-linux-gnu/libclang*.so* /usr/lib/aarch64-linux-gnu/libclang*.so* >/dev/null 2>&1
}

# apt_install PKG...: installs the Debian packages that are not installed yet.
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
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
    if ! have_libclang || ! command -v cc >/dev/null 2>&1; then
        apt_install libclang-dev build-essential
    fi
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
