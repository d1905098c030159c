#!/usr/bin/env bash
# WebURL against web-platform-tests' URL data (url/resources/urltestdata.json), which the repository does not hold.
#   scripts/url_conformance.sh [path/to/urltestdata.json]
# Without a path it uses $WINNOW_WPT_URLTESTDATA, or else the copy Debian ships in librust-url-dev (rust-url's
# snapshot of WPT's file), downloaded with apt-get into a temporary folder. Prints each difference (WPT-DIFF) and
# the count (WPT-SUMMARY); fails on a difference that WebURLConformanceTests does not list as deliberate.
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-${WINNOW_WPT_URLTESTDATA:-}}"
if [ -z "$data" ]; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && apt-get download librust-url-dev >/dev/null && dpkg -x librust-url-dev_*.deb x)
    data="$(find "$tmp/x" -name urltestdata.json | head -n 1)"
    [ -n "$data" ] || { echo "url_conformance: no urltestdata.json in librust-url-dev" >&2; exit 1; }
fi
swift build --build-tests
WINNOW_WPT_URLTESTDATA="$(realpath "$data")" swift test --skip-build --filter WebURLConformanceTests 2>&1 |
    grep -E "WPT-DIFF|WPT-SUMMARY|Test run|passed|failed"
