#!/usr/bin/env bash
# Ensure the Debian packages the test suite needs are installed.
#
#   bash scripts/system-deps.sh
#
# As root, missing packages are installed with apt-get.  Otherwise the missing
# packages are listed with the command to install them; that is an error under
# CI=true (exit 1) and only a warning elsewhere (exit 0; the tests that need
# them will then fail/skip with a clear message).
#
# This only installs packages: it never starts or configures services.  (The
# postgresql package's postinst may create and start a cluster on port 5432; the
# test suite does not use it, it runs its own throwaway clusters.)
set -euo pipefail

# Debian packages the test suite and the benchmarks need.  Append here (e.g.
# chromium) and add the binaries that prove each one is present below.
# xrootd-server/xrootd-client: the XRootD file store (tests/_services/xrootd.py);
# nginx, curl: the HTTP baseline and the download client of bench/files.py (the
# nginx package may start a service on port 80; the bench runs its own server).
SYSTEM_PACKAGES=(postgresql xrootd-server xrootd-client nginx curl chromium)

# package -> binaries that must be found (on PATH or in EXTRA_BIN_DIRS).
declare -A PACKAGE_BINARIES=(
    [postgresql]="initdb pg_ctl postgres"
    [xrootd-server]="xrootd"
    [xrootd-client]="xrdcp xrdfs"
    [nginx]="nginx"
    [curl]="curl"
    [chromium]="chromium"
)

# Directories searched besides $PATH (globs allowed).  Debian keeps the
# PostgreSQL server binaries in /usr/lib/postgresql/<version>/bin.
EXTRA_BIN_DIRS=(/usr/lib/postgresql/*/bin /usr/sbin /sbin)

have_binary() {
    local name=$1 dir
    command -v "$name" >/dev/null 2>&1 && return 0
    for dir in "${EXTRA_BIN_DIRS[@]}"; do
        [[ -x "$dir/$name" && ! -d "$dir/$name" ]] && return 0
    done
    return 1
}

missing_packages() {
    local pkg bin
    for pkg in "${SYSTEM_PACKAGES[@]}"; do
        for bin in ${PACKAGE_BINARIES[$pkg]:-}; do
            if ! have_binary "$bin"; then
                echo "$pkg"
                break
            fi
        done
    done
}

is_ci() {
    case "${CI:-}" in
        true | TRUE | True | 1) return 0 ;;
        *) return 1 ;;
    esac
}

mapfile -t missing < <(missing_packages)

if ((${#missing[@]} == 0)); then
    echo "system deps: ok"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "system deps: missing ${missing[*]} and apt-get is not available" >&2
        exit 1
    fi
    echo "system deps: installing ${missing[*]}" >&2
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    # Re-check: the package must really provide what we look for.
    mapfile -t still_missing < <(missing_packages)
    if ((${#still_missing[@]} > 0)); then
        echo "system deps: still missing after install: ${still_missing[*]}" >&2
        exit 1
    fi
    echo "system deps: ok"
    exit 0
fi

{
    echo "system deps: missing Debian packages: ${missing[*]}"
    echo "  install them with:"
    echo "    sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
    echo "  (or run this script as root: sudo bash scripts/system-deps.sh)"
} >&2
if is_ci; then
    echo "system deps: CI=${CI} - failing" >&2
    exit 1
fi
echo "system deps: WARNING - tests that need ${missing[*]} will fail" >&2
exit 0
