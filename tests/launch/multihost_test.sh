#!/usr/bin/env bash
# The multi-host test: two "hosts" made as Linux network namespaces on this
# machine, joined by a veth pair on a private /24 that exists only inside
# them. Open MPI launches ranks into both over TCP (its ssh agent replaced by
# netns_agent.sh), first an all-reduce check of the plumbing, then a short
# data-parallel `spacebyte train`, launched by launch/run_hostfile.sh as a
# user would, whose losses must equal the same run on one host. Exits 77 (ctest skip) with the reason where namespaces cannot be made.
#
#   multihost_test.sh MPIEXEC SPACEBYTE MPI_HOSTS_CHECK COMPARE_LOSSES CORPUS_DIR CONFIG WORK_DIR
set -euo pipefail
mpiexec=$1 spacebyte=$2 hosts_check=$3 compare=$4 corpus=$5 config=$6 work=$7
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "SKIP: $*"; exit 77; }

command -v ip >/dev/null || skip "no 'ip' command (Debian package iproute2)"
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root (or CAP_NET_ADMIN and CAP_SYS_ADMIN)"

# Unique names, so parallel runs of this test never share a namespace. The
# addresses live only inside these namespaces; the host's own interfaces,
# addresses and routes are never touched.
tag="sb$$"
namespaces=("${tag}h0" "${tag}h1")
addresses=(10.213.77.1 10.213.77.2)
subnet=10.213.77.0/24

cleanup() {
  for ns in "${namespaces[@]}"; do
    # Processes of ours left inside a namespace (a rank of a failed run).
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT

for ns in "${namespaces[@]}"; do
  ip netns add "$ns" 2>/dev/null || skip "cannot create network namespaces ('ip netns add' failed: no CAP_NET_ADMIN?)"
  ip netns exec "$ns" true 2>/dev/null || skip "cannot enter network namespaces ('ip netns exec' needs CAP_SYS_ADMIN)"
  ip -n "$ns" link set lo up
done
# The veth pair is created inside the first namespace with its peer moved
# straight into the second: no interface ever appears in the host namespace.
ip -n "${namespaces[0]}" link add eth0 type veth peer name eth0 netns "${namespaces[1]}" \
  || skip "cannot create veth pairs inside namespaces"
for i in 0 1; do
  ip -n "${namespaces[$i]}" addr add "${addresses[$i]}/24" dev eth0
  ip -n "${namespaces[$i]}" link set eth0 up
done
echo "hosts: ${namespaces[0]}=${addresses[0]} ${namespaces[1]}=${addresses[1]} on $subnet"

export SPACEBYTE_NETNS_HOSTS="${addresses[0]}=${namespaces[0]} ${addresses[1]}=${namespaces[1]}"
# mpirun itself runs on host 0 and starts host 1's daemon through the agent;
# every message between ranks goes over TCP on the private subnet.
across_hosts() {  # RANKS_PER_HOST PROGRAM ARGS...
  local per_host=$1
  shift
  timeout 300 ip netns exec "${namespaces[0]}" "$mpiexec" --allow-run-as-root --oversubscribe \
    --mca plm_rsh_agent "$here/netns_agent.sh" --mca plm_rsh_no_tree_spawn 1 \
    --mca oob_tcp_if_include "$subnet" --mca btl self,tcp --mca btl_tcp_if_include "$subnet" \
    --host "${addresses[0]}:$per_host,${addresses[1]}:$per_host" -np $((2 * per_host)) "$@"
}

echo "== plumbing: all-reduce across 2 hosts, 2 ranks each"
across_hosts 2 "$hosts_check" 2

if ! "$spacebyte" train --help >/dev/null 2>&1; then
  skip "plumbing passed; the training comparison needs 'spacebyte train', which this build lacks"
fi

echo "== data: the UDHR corpus, one language per file"
rm -rf "$work"
mkdir -p "$work"
"$spacebyte" prep --input "$corpus" --language_from '([a-z]+)\.txt$' --separator blank \
  --out "$work/data" >/dev/null

# One intra-op thread everywhere: thread counts change float summation order,
# and the two layouts would otherwise get different defaults.
train_args=(train --config "$config" --set "data.path=$work/data" --set train.threads=1)

echo "== one host, 2 ranks"
timeout 300 "$mpiexec" --allow-run-as-root --oversubscribe -np 2 \
  "$spacebyte" "${train_args[@]}" --run_dir "$work/one_host"
echo "== 2 hosts, 1 rank each, over TCP, launched by launch/run_hostfile.sh"
printf '%s slots=1\n%s slots=1\n' "${addresses[0]}" "${addresses[1]}" > "$work/hosts.txt"
# The launcher as users run it; its "ssh" is the namespace agent, and
# SPACEBYTE_NET keeps MPI's control channel and messages on the subnet.
timeout 300 ip netns exec "${namespaces[0]}" env SPACEBYTE_NET="$subnet" \
  OMPI_MCA_plm_rsh_agent="$here/netns_agent.sh" OMPI_MCA_plm_rsh_no_tree_spawn=1 \
  bash "$here/../../launch/run_hostfile.sh" "$work/hosts.txt" 2 -- \
  "$spacebyte" "${train_args[@]}" --run_dir "$work/two_hosts"

"$compare" "$work/one_host/metrics.jsonl" "$work/two_hosts/metrics.jsonl" 1e-6
