#!/usr/bin/env bash
# Open MPI launch agent (--mca plm_rsh_agent) for the namespace test hosts:
# called like ssh as `netns_agent.sh HOST COMMAND...`, it runs COMMAND (the
# orted start-up line) inside the network namespace that owns HOST's address.
# SPACEBYTE_NETNS_HOSTS maps addresses to namespaces: "10.0.0.1=ns0 10.0.0.2=ns1".
set -euo pipefail
host=$1
shift
for pair in ${SPACEBYTE_NETNS_HOSTS:?not set: address=namespace pairs}; do
  if [ "${pair%%=*}" = "$host" ]; then
    exec ip netns exec "${pair#*=}" /bin/sh -c "$*"
  fi
done
echo "netns_agent.sh: no namespace for host $host in SPACEBYTE_NETNS_HOSTS" >&2
exit 255
