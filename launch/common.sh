# shellcheck shell=bash
# Shared by the launchers (sourced, not run): argument parsing, the program's
# path, and the mpirun flags every launch needs.

# repo root, whichever directory the launcher was called from
SPACEBYTE_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "$(basename "$0"): $*" >&2; exit 2; }

# parse_launch_args USAGE N -- COMMAND...: checks N is a positive count and
# sets RANKS and COMMAND (an array). A leading `spacebyte` that is not on
# PATH becomes this checkout's build/bin/spacebyte, as an absolute path so
# remote nodes with the same checkout path find it too.
parse_launch_args() {
  local usage=$1
  shift
  if [ $# -lt 3 ] || [ "$2" != "--" ]; then die "usage: $usage"; fi
  [[ $1 =~ ^[1-9][0-9]*$ ]] || die "the rank count must be a positive integer, got '$1'"
  # shellcheck disable=SC2034  # read by the launcher that sources this file
  RANKS=$1
  shift 2
  COMMAND=("$@")
  if [ "${COMMAND[0]}" = spacebyte ] && ! command -v spacebyte >/dev/null; then
    COMMAND[0]=$SPACEBYTE_REPO/build/bin/spacebyte
    [ -x "${COMMAND[0]}" ] || die "${COMMAND[0]} is not built yet (run launch/quickstart.sh or cmake --build build)"
  fi
}

# MPIRUN: mpirun with the flags every launch needs. Open MPI refuses to run
# as root unless told; --oversubscribe lets a laptop run more ranks than
# Open MPI counts slots (cores) for. SPACEBYTE_MPIRUN_ARGS adds more.
mpirun_base() {
  MPIRUN=(mpirun)
  [ "$(id -u)" -eq 0 ] && MPIRUN+=(--allow-run-as-root)
  MPIRUN+=(--oversubscribe)
  # Word splitting is wanted: the variable holds several flags.
  # shellcheck disable=SC2206
  MPIRUN+=(${SPACEBYTE_MPIRUN_ARGS:-})
}
