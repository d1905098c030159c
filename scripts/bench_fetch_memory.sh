#!/usr/bin/env bash
# Is memory flat in the input's size? (development tool)
#   bash scripts/bench_fetch_memory.sh [DIR]
# Runs `winnow run pipelines/bench-fetch.json` on two URL lists made from the fetch benchmark's web (DIR, default
# .build/bench-data/fetch-web; `make bench-fetch` makes it): 10k candidates (its 5,000 URLs twice, each with a
# distinct query string) and 1M candidates (the same 10k, one in every hundred lines, among 990k URLs whose hosts
# are random address literals in 10.0.0.0/8, which the address guard refuses at admission). Both fetch the same
# 10k; the 1M run also parses, filters, admits and indexes 990k more. Prints wall time, CPU and peak RSS of each.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-.build/bench-data/fetch-web}
[ -f "$DIR/urls.txt" ] || { echo "bench_fetch_memory: no $DIR/urls.txt (run make bench-fetch first)" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"; bash scripts/bench_fetch_peer.sh "$DIR" --stop >/dev/null 2>&1 || true' EXIT
swift build -c release --product winnow >/dev/null
port=$(bash scripts/bench_fetch_peer.sh "$DIR" --serve-only | sed -n 's/^nginx: pid [0-9]* port \([0-9]*\).*/\1/p')
python3 - "$DIR/urls.txt" "$port" "$WORK" <<'PY'
import random, sys
urls, port, work = sys.argv[1], sys.argv[2], sys.argv[3]
real = [l.strip().replace("{PORT}", port) for l in open(urls) if l.strip()]
base = [u + "?r=%d" % i for i in range(2) for u in real]
open(work + "/10k.txt", "w").write("\n".join(base) + "\n")
rnd = random.Random(1)
with open(work + "/1m.txt", "w") as f:
    n = 0
    for i in range(1_000_000):
        if i % 100 == 0 and n < len(base):
            f.write(base[n] + "\n")
            n += 1
        else:
            f.write("http://10.%d.%d.%d/img/%d.jpg\n" % (rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255), i))
PY
for list in 10k 1m; do
    rm -rf "$WORK/out"
    /usr/bin/time -f "%e %U %S %M" -o "$WORK/time" .build/release/winnow run pipelines/bench-fetch.json \
        --input "$WORK/$list.txt" --output "$WORK/out" >/dev/null
    read -r wall user sys rss < "$WORK/time"
    kept=$(.build/release/winnow stats "$WORK/out" --json | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['candidates'], d['kept'])")
    echo "$list: candidates/kept $kept, $wall s wall, $user s user, $sys s sys, $((rss / 1024)) MB peak rss"
done
