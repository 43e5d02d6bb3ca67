#!/bin/sh
# The commands of docs/ci-github-actions.yml's jobs, kept here so that a test
# (tests/core/test_core_shard.py) runs exactly what the workflow runs.
#
#   ci-shard.sh shard I N DIR [race-explorer options]  one shard: DIR/shard-I.jsonl, .xml
#   ci-shard.sh merge OUT DIR                            every shard's trace in DIR, merged
#
# RACE_EXPLORER is the command (default: race-explorer). A shard that finds a
# break still succeeds: the merge job gives the run's verdict.
set -eu
explorer=${RACE_EXPLORER:-race-explorer}
what=$1
shift
case "$what" in
shard)
    index=$1 count=$2 dir=$3
    shift 3
    mkdir -p "$dir"
    code=0
    $explorer --headless --shard "$index/$count" --trace "$dir/shard-$index.jsonl" \
        --junit "$dir/shard-$index.xml" "$@" || code=$?
    # 1: something broke, which the merge reports; anything else: the job itself failed.
    if [ "$code" -gt 1 ]; then exit "$code"; fi
    ;;
merge)
    out=$1 dir=$2
    code=0
    $explorer merge "$dir"/*.jsonl -o "$out" || code=$?
    if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -f "$out/summary.md" ]; then
        cat "$out/summary.md" >> "$GITHUB_STEP_SUMMARY"
    fi
    exit "$code"
    ;;
*)
    echo "usage: ci-shard.sh shard I N DIR [options] | ci-shard.sh merge OUT DIR" >&2
    exit 2
    ;;
esac
