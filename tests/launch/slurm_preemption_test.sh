#!/usr/bin/env bash
# Preemption under a real SLURM: a single-node cluster (slurmctld + slurmd on
# localhost, munge for authentication) started by this test. A 2-rank run of
# launch/slurm.sbatch gets SIGUSR1 as SLURM sends it before a time limit
# (scancel --batch --signal=USR1); the ranks save a checkpoint and exit 75,
# the script requeues the job, SLURM starts it again, it resumes and finishes
# with the losses of the same run never interrupted (mpirun, 2 ranks). Exits
# 77 (ctest skip) with the reason where the cluster cannot start.
#
#   slurm_preemption_test.sh MPIEXEC SPACEBYTE COMPARE_LOSSES CORPUS_DIR SBATCH_SCRIPT WORK_DIR
set -euo pipefail
mpiexec=$1 spacebyte=$2 compare=$3 corpus=$4 script=$5 work=$6
skip() { echo "SKIP: $*"; exit 77; }

for tool in slurmctld slurmd sbatch scontrol squeue sinfo scancel munged munge; do
  command -v "$tool" >/dev/null || skip "no $tool (Debian packages slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "slurmd runs jobs as any user only as root"

rm -rf "$work" && mkdir -p "$work"/{state,spool,log}
work=$(cd "$work" && pwd)
port=$((20000 + $$ % 20000))  # its own ports: never another cluster's
export SLURM_CONF=$work/slurm.conf
cat > "$SLURM_CONF" <<CONF
ClusterName=spacebytetest
SlurmctldHost=localhost
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=localhost CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

started=()
cleanup() {
  scancel --full "${job:-0}" 2>/dev/null || true
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
if ! munge -n >/dev/null 2>&1; then
  mkdir -p /run/munge
  munged --force 2>/dev/null || skip "munged does not start"
  started+=("$(cat /run/munge/munged.pid 2>/dev/null || pgrep -n munged)")
  munge -n >/dev/null 2>&1 || skip "munge does not authenticate"
fi
slurmctld -f "$SLURM_CONF" || skip "slurmctld does not start (log: $work/log/slurmctld.log)"
sleep 1
started+=("$(cat "$work/slurmctld.pid")")
slurmd -f "$SLURM_CONF" || skip "slurmd does not start (log: $work/log/slurmd.log)"
sleep 1
started+=("$(cat "$work/slurmd.pid")")
for _ in $(seq 60); do
  sinfo -h -o %t 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o %t | grep -q idle || skip "the node never became idle: $(sinfo 2>&1)"

"$spacebyte" prep --input "$corpus/eng.txt=eng" --input "$corpus/fra.txt=fra" \
  --input "$corpus/deu.txt=deu" --separator blank --out "$work/data" >/dev/null
cat > "$work/config.textproto" <<CONF
model { d_model: 64 d_local: 32 context_size: 64 global_context_size: 16 n_layers: 2 n_local_layers: 2 d_key: 16 }
train { steps: 300 batch_size: 4 log_interval: 1 seed: 5 threads: 1 }
data { path: "$work/data" }
checkpoint { interval: 0 }
CONF

"$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$spacebyte" train \
  --config "$work/config.textproto" --run_dir "$work/straight" >/dev/null

export SPACEBYTE_BIN=$spacebyte
job=$(sbatch --parsable --gpus-per-node=0 --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
  --time=30 --output="$work/job.out" --open-mode=append "$script" \
  --config "$work/config.textproto" --run_dir "$work/run")
echo "job $job submitted"
for _ in $(seq 600); do
  grep -q '"step":5[,}]' "$work/run/metrics.jsonl" 2>/dev/null && break
  sleep 0.1
done
scancel --batch --signal=USR1 "$job"
# Requeued jobs wait 2 minutes before SLURM may start them again.
for _ in $(seq 400); do
  [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 1
done
cat "$work/job.out"
[ -z "$(squeue -h -j "$job" 2>/dev/null)" ] || { echo "FAIL: job $job still queued"; exit 1; }
grep -q "by signal 10" "$work/job.out" || { echo "FAIL: no stop on SIGUSR1"; exit 1; }
grep -q "requeued" "$work/job.out" || { echo "FAIL: not requeued"; exit 1; }
grep -q "resumed from $work/run/checkpoints/step_" "$work/job.out" || { echo "FAIL: no resume"; exit 1; }
grep -q "step 300/300" "$work/job.out" || { echo "FAIL: did not finish"; exit 1; }
"$compare" "$work/straight/metrics.jsonl" "$work/run/metrics.jsonl" 0
echo "PASS: preempted under SLURM at $(grep -o 'stopped at step [0-9]*' "$work/job.out"), requeued, resumed, same losses"
