#!/usr/bin/env bash
# Installs what Winnow needs on Debian 12 (bookworm), and nothing that is already there.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail

# System C libraries Winnow links (SwiftPM system-library targets), and the tools the build and tests use
# (curl: a reference HTTP client in tests; nginx + openssl: the HTTP/2-over-TLS fetch test; python3-venv: the
# interoperability check; libturbojpeg0-dev: winnow-bench's raw tjDecompress2 baseline; libavif-bin and libjxl-tools:
# avifenc and cjxl, which scripts/gen_avif_jxl_fixtures.py writes the AVIF and JPEG XL test files with; slurmctld,
# slurmd and slurm-client: the single-node Slurm of the cluster test, started by scripts/slurm/start.sh; libpsl-dev:
# the Public Suffix List for the report's domains; chromium: the report test opens index.html headless).
packages=(pkg-config curl libsnappy-dev libzstd-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev nginx openssl libjpeg62-turbo-dev libturbojpeg0-dev zlib1g-dev libdeflate-dev libpng-dev libwebp-dev libgif-dev libavif-dev libjxl-dev libbrotli-dev libavif-bin libjxl-tools libopenblas-dev libpsl-dev chromium python3 python3-venv slurmctld slurmd slurm-client)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "setup: missing packages (${missing[*]}) and not root: run 'apt-get install ${missing[*]}' as root" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "setup: swift is at /opt/swift/usr/bin but not on PATH; add it: export PATH=/opt/swift/usr/bin:\$PATH" >&2
    else
        echo "setup: the Swift 6 toolchain is not installed (Debian has no package for it): see https://www.swift.org/install/linux/" >&2
    fi
    exit 1
fi
