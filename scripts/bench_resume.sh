#!/usr/bin/env bash
# The cost of resumability on a clean run (development tool): the fetch benchmark's run (5,000 URLs on nginx,
# pipelines/bench-fetch.json: fetch + 256 px center crop + JPEG 95 into shards) made by this tree's winnow and by the
# winnow of BASE (default 241c20b, the commit before resumable runs: no input-order writer, no per-shard commits,
# no write-ahead log), alternating, PAIRS pairs, on the same warm nginx.
#
#   bash scripts/bench_resume.sh [PAIRS] [BASE]
#
# Prints each run's images/s and CPU seconds (user + sys, /usr/bin/time), then the medians and the median of the
# pairs' ratios (this tree / BASE).
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${1:-7}
BASE=${2:-241c20b}
DIR=.build/bench-data/fetch-web
WT=.build/bench-base
if [ ! -x .venv-bench-fetch/bin/python ]; then
    python3 -m venv .venv-bench-fetch
    .venv-bench-fetch/bin/pip install --quiet --disable-pip-version-check pillow numpy "img2dataset==1.47.0"
fi
command -v avifenc >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq libavif-bin >/dev/null; }
.venv-bench-fetch/bin/python scripts/bench_fetch_web.py --out "$DIR" --count 5000 --seed 1
swift build -c release --product winnow >/dev/null
if [ ! -x "$WT/.build/release/winnow" ] || [ "$(git -C "$WT" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$BASE")" ]; then
    rm -rf "$WT"; git worktree prune
    git worktree add --detach "$WT" "$BASE" >/dev/null
    (cd "$WT" && swift build -c release --product winnow >/dev/null)
fi
port=$(bash scripts/bench_fetch_peer.sh "$DIR" --serve-only | sed -n 's/^nginx: pid [0-9]* port \([0-9]*\).*/\1/p')
trap 'bash scripts/bench_fetch_peer.sh "$DIR" --stop >/dev/null 2>&1 || true' EXIT
one() {  # one run: prints "images/s cpu_s"
    local bin=$1 out=$DIR/resume-bench-out
    rm -rf "$out"
    /usr/bin/time -f "%e %U %S" -o "$DIR/resume.time" "$bin" run pipelines/bench-fetch.json \
        --input "$DIR/urls.resolved.txt" --output "$out" >/dev/null 2>&1
    read -r wall user sys < "$DIR/resume.time"
    kept=$(sqlite3 "$out/index.sqlite" "SELECT count(*) FROM samples WHERE status = 'kept'")
    python3 -c "print(f'{$kept / $wall:.1f} {$user + $sys:.2f}')"
}
one .build/release/winnow >/dev/null  # warm the page cache and nginx
echo "cpu flags: $(grep -o -w 'avx512f\|avx2\|fma\|f16c' /proc/cpuinfo | sort -u | tr '\n' ' ')"
rates_new=(); rates_base=(); cpu_new=(); cpu_base=(); ratios=()
for i in $(seq 1 "$PAIRS"); do
    if [ $((i % 2)) -eq 1 ]; then b=$(one "$WT/.build/release/winnow"); n=$(one .build/release/winnow)
    else n=$(one .build/release/winnow); b=$(one "$WT/.build/release/winnow"); fi
    echo "pair $i: base $b | new $n   (images/s cpu_s)"
    rates_base+=("${b% *}"); cpu_base+=("${b#* }"); rates_new+=("${n% *}"); cpu_new+=("${n#* }")
    ratios+=("$(python3 -c "print(${n% *} / ${b% *})")")
done
python3 - "${rates_base[*]}" "${rates_new[*]}" "${cpu_base[*]}" "${cpu_new[*]}" "${ratios[*]}" <<'PY'
import statistics as st, sys
rb, rn, cb, cn, r = ([float(x) for x in a.split()] for a in sys.argv[1:])
print(f"median images/s: base {st.median(rb):.1f}, new {st.median(rn):.1f}; median of pair ratios {st.median(r):.3f}")
print(f"median cpu s:    base {st.median(cb):.2f}, new {st.median(cn):.2f} (ratio {st.median(cn) / st.median(cb):.3f})")
PY
