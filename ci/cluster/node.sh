#!/usr/bin/env bash
# node.sh NAMESPACE HOSTNAME CMD...: runs CMD in the node's network namespace with its own host name.
ns=$1; host=$2; shift 2
exec nsenter --net=/run/netns/"$ns" unshare --uts /bin/sh -c "hostname $host; exec \"\$@\"" sh "$@"
