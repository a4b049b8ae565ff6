#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for trying the array script and for the
# project's Slurm test (npm run test:slurm): installs Debian's slurmd, slurmctld,
# slurm-client and munge when they are missing (as root, with apt), writes a munge key
# and a minimal slurm.conf (this host as the only node, no cgroups), and starts munged,
# slurmctld and slurmd. `local-cluster.sh stop` stops what it started.
#
# Not for production clusters: those have their own configuration; the array script
# (svmfuzz-array.sbatch) needs nothing from this one.
set -euo pipefail

STATE=/run/svmfuzz-slurm
if [[ "${1:-start}" == stop ]]; then
  # The daemons this script started (a start records them in $STATE/started).
  for p in slurmd slurmctld munged; do
    grep -qx "$p" "$STATE/started" 2>/dev/null || continue
    pkill -x "$p" || true
    # Wait for it to exit: a start right after a stop must not find it still shutting down.
    for _ in $(seq 1 100); do pgrep -x "$p" >/dev/null || break; sleep 0.1; done
  done
  rm -rf "$STATE"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "local-cluster.sh: run as root (it installs packages and starts daemons)" >&2
  exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurmd slurmctld slurm-client munge >/dev/null
fi
mkdir -p "$STATE" /etc/slurm /var/spool/slurmd /var/spool/slurmctld /var/log/slurm /run/munge /var/lib/munge /var/log/munge
if [[ ! -s /etc/munge/munge.key ]]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
if ! pgrep -x munged >/dev/null; then
  runuser -u munge -- /usr/sbin/munged
  echo munged >>"$STATE/started"
fi
# slurmctld and slurmd exit at once when munge does not answer yet.
for _ in $(seq 1 50); do
  munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
  sleep 0.1
done

host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=svmfuzz
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
for d in slurmctld slurmd; do
  if ! pgrep -x "$d" >/dev/null; then
    "/usr/sbin/$d"
    echo "$d" >>"$STATE/started"
  fi
done
deadline=$((SECONDS + 30))
while ((SECONDS < deadline)); do
  if timeout 3 sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "local-cluster.sh: Slurm is up: $(sinfo -h -o '%P %D %T %C')"
    exit 0
  fi
  sleep 0.2
done
echo "local-cluster.sh: Slurm did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
sinfo >&2 || true
exit 1
