#!/usr/bin/env bash
# Stops the Slurm daemons that scripts/slurm/start.sh DIR started, by the PIDs in DIR (never by name), and waits
# for them to exit (bounded).
set -uo pipefail
DIR=$(realpath -m "${1:?usage: stop.sh DIR}")
for name in slurmd slurmctld; do
    pidfile="$DIR/$name.pid"
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
done
