#!/usr/bin/env bash
# cluster-down.sh: stops the daemons cluster-up.sh started, by their recorded pids, and deletes its namespaces.
D=${CLUSTER_DIR:-/tmp/duet-cluster}
if [ -f "$D/pids" ]; then
    while read -r name pid; do
        [ "$name" = munged ] || kill "$pid" 2> /dev/null
    done < "$D/pids"
    sleep 2
    awk '$1 == "munged" { print $2 }' "$D/pids" | xargs -r kill 2> /dev/null
fi
for ns in sp-head $(ip netns list | awk '{ print $1 }' | grep -E '^sp-n[0-9]+$') sp-sw; do
    ip netns del "$ns" 2> /dev/null
done
rm -rf "$D/etc" "$D/state" "$D/log" "$D/tmp" "$D/pids"
