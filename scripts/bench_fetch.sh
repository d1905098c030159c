#!/usr/bin/env bash
# Fetch benchmark, both sides in one run on the same local web (development tool):
#   bash scripts/bench_fetch.sh [DIR] [COUNT]
# Generates DIR (default .build/bench-data/fetch-web) with scripts/bench_fetch_web.py if needed, serves it with nginx
# on 127.0.0.1, runs `winnow run pipelines/bench-fetch.json` on its URL list (fetch + 256 px center crop + JPEG 95 into
# webdataset shards) under /usr/bin/time, then img2dataset with the same settings (scripts/bench_fetch_peer.sh),
# and prints both lines and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.build/bench-data/fetch-web}
COUNT=${2:-5000}
PY=.venv-bench-fetch/bin/python
if [ ! -x "$PY" ]; then
    python3 -m venv .venv-bench-fetch
    .venv-bench-fetch/bin/pip install --quiet --disable-pip-version-check pillow numpy "img2dataset==1.47.0"
fi
command -v nginx >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq nginx >/dev/null; }
# The web has a few percent AVIF images, encoded with Debian's avifenc.
command -v avifenc >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libavif-bin >/dev/null; }
"$PY" scripts/bench_fetch_web.py --out "$DIR" --count "$COUNT" --seed 1
swift build -c release --product winnow >/dev/null

# Winnow.
port=$(bash scripts/bench_fetch_peer.sh "$DIR" --serve-only | sed -n 's/^nginx: pid [0-9]* port \([0-9]*\).*/\1/p')
rm -rf "$DIR/winnow-out"
/usr/bin/time -f "%e %U %S %M" -o "$DIR/winnow.time" .build/release/winnow run pipelines/bench-fetch.json \
    --input "$DIR/urls.resolved.txt" --output "$DIR/winnow-out" >/dev/null
bash scripts/bench_fetch_peer.sh "$DIR" --stop >/dev/null || true
read -r wall user sys rss < "$DIR/winnow.time"
kept=$(.build/release/winnow stats "$DIR/winnow-out" --json | python3 -c "import json,sys; print(json.load(sys.stdin)['kept'])")
total=$(wc -l < "$DIR/urls.resolved.txt")
winnow_rate=$(python3 -c "print(f'{$kept / $wall:.1f}')")
echo "winnow: $kept ok of $total, $wall s wall, $(python3 -c "print(f'{$user + $sys:.1f}')") s cpu, $((rss / 1024)) MB peak rss, $winnow_rate images/s, $(python3 -c "print(f'{($user + $sys) * 1000 / max(1, $kept):.1f}')") ms cpu/image"
echo "winnow port was $port"

# img2dataset.
peer=$(bash scripts/bench_fetch_peer.sh "$DIR" | grep '^img2dataset:')
echo "$peer"
peer_rate=$(echo "$peer" | sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p')
python3 -c "print(f'ratio: {$winnow_rate / $peer_rate:.2f}x img2dataset images/s')"
