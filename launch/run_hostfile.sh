#!/usr/bin/env bash
# N ranks over the hosts of an Open MPI hostfile, started over ssh, talking
# TCP:
#
#   launch/run_hostfile.sh hosts.txt 4 -- spacebyte train --config my.textproto --run_dir /shared/runs/x
#
# hosts.txt has one line per host: `node1 slots=2`. Every host needs the same
# checkout path (or a shared filesystem), passwordless ssh from this one, and
# the run directory and data.path on a filesystem all of them see.
#
# Environment knobs:
#   SPACEBYTE_NET=eth0 or 10.0.0.0/24   the interface (or subnet) MPI uses,
#                          for both its control channel and messages; sets
#                          OMPI_MCA_oob_tcp_if_include and _btl_tcp_if_include
#   OMPI_MCA_*             any Open MPI parameter, passed on to every host
#   NCCL_*, OMP_*, SPACEBYTE_*   forwarded to every rank (-x)
#   SPACEBYTE_MPIRUN_ARGS  extra mpirun flags, e.g. "--map-by ppr:1:node"
set -euo pipefail
# shellcheck source=launch/common.sh
source "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || die "usage: run_hostfile.sh HOSTFILE N -- COMMAND [ARGS...]"
hostfile=$1
shift
[ -r "$hostfile" ] || die "cannot read hostfile '$hostfile'"
parse_launch_args "run_hostfile.sh HOSTFILE N -- COMMAND [ARGS...]" "$@"

if [ -n "${SPACEBYTE_NET:-}" ]; then
  export OMPI_MCA_oob_tcp_if_include=$SPACEBYTE_NET
  export OMPI_MCA_btl_tcp_if_include=$SPACEBYTE_NET
fi

mpirun_base
MPIRUN+=(--hostfile "$hostfile" --mca btl "self,vader,tcp")
while IFS='=' read -r name _; do
  case $name in NCCL_* | OMP_* | OPENBLAS_* | SPACEBYTE_*) MPIRUN+=(-x "$name") ;; esac
done < <(env)
exec "${MPIRUN[@]}" -np "$RANKS" "${COMMAND[@]}"
