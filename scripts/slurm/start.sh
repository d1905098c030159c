#!/usr/bin/env bash
# Starts a single-node Slurm (Debian 12's slurmctld and slurmd, 22.05) on this machine for the tests, without
# systemd: its own config, state, logs and PID files under DIR, free ports, no munge (auth/none).
#
#   bash scripts/slurm/start.sh DIR      # prints "export SLURM_CONF=DIR/slurm.conf" once the node is idle
#   bash scripts/slurm/stop.sh DIR       # stops both daemons by their PIDs
#
# Installs the packages with apt-get when they are missing (as scripts/setup.sh does for the other tools).
set -euo pipefail
DIR=$(realpath -m "${1:?usage: start.sh DIR}")
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client >/dev/null
fi
mkdir -p "$DIR/state" "$DIR/spool" "$DIR/jobs"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ctld_port=$(free_port)
slurmd_port=$(free_port)
cpus=$(nproc)
cat > "$DIR/slurm.conf" <<CONF
ClusterName=winnow-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/none
CredType=cred/none
AuthInfo=cred_expire=10
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobCompType=jobcomp/none
JobRequeue=1
KillWait=5
MinJobAge=300
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$DIR/slurm.conf
slurmctld -f "$DIR/slurm.conf" -i
slurmd -f "$DIR/slurm.conf" -N localhost
# Ready when the node is idle (bounded: 30 s).
for _ in $(seq 1 150); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -q '^idle'; then
        echo "export SLURM_CONF=$DIR/slurm.conf"
        exit 0
    fi
    sleep 0.2
done
echo "slurm did not come up; see $DIR/slurmctld.log and $DIR/slurmd.log" >&2
bash "$(dirname "$0")/stop.sh" "$DIR"
exit 1
