#!/bin/sh
# Joins Valkey nodes into a cluster of primaries, once: when the first node already reports
# a working cluster it changes nothing, so it can run on every start.
#   valkey-cluster-init.sh HOST:PORT HOST:PORT HOST:PORT
# VALKEY_CLI names the client binary (default: valkey-cli on PATH).
set -eu
cli=${VALKEY_CLI:-valkey-cli}

state() { # HOST:PORT -> that node's cluster_state (ok, fail), empty if it does not answer
    "$cli" -h "${1%:*}" -p "${1##*:}" cluster info 2>/dev/null |
        tr -d '\r' | sed -n 's/^cluster_state://p'
}

if [ "$(state "$1")" = ok ]; then
    echo "cluster already up"
    exit 0
fi
# valkey-cli resolves host names itself before the nodes meet.
"$cli" --cluster create "$@" --cluster-replicas 0 --cluster-yes
tries=0
while :; do # until every node agrees the cluster is up (at most ~30 s)
    up=0
    for node in "$@"; do
        if [ "$(state "$node")" = ok ]; then up=$((up + 1)); fi
    done
    if [ "$up" -eq "$#" ]; then
        echo "cluster up: $*"
        exit 0
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
        echo "the cluster did not come up" >&2
        exit 1
    fi
    sleep 0.5
done
