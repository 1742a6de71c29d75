#!/usr/bin/env bash
# Measures the syscalls of the VMM's threads for the default seccomp filters
# (packages/vmm-core/seccomp/default-filters.json): runs the e2e tier (test guests) under
# `strace -f` with allow-everything filters in place of the defaults, so each thread's install
# point shows in the trace, then regenerates the defaults from the trace (gen-default-filters.mjs).
# Usage: scripts/seccomp/measure.sh TRACE_FILE [TEST_FILE...]   (needs strace; ~2x the e2e tier's
# time). With test files only those run; gen-default-filters.mjs takes several traces at once.
# PROJECT=linux measures the Linux tier instead (where /dev/kvm can boot Debian's kernel).
set -euo pipefail
cd "$(dirname "$0")/../.."
trace=${1:?usage: measure.sh TRACE_FILE [TEST_FILE...]}
shift
defaults=packages/vmm-core/seccomp/default-filters.json
backup=$(mktemp)
cp "$defaults" "$backup"
trap 'cp "$backup" "$defaults"; rm -f "$backup"' EXIT
allow='{"default_action":"allow","filter_action":"allow","filter":[]}'
printf '{"vmm":%s,"api":%s,"vcpu":%s}\n' "$allow" "$allow" "$allow" > "$defaults"
# -X verbose: ioctl requests as numbers (with their names); -s 256: whole argv in execve lines.
strace -f -qq -X verbose -s 256 -e signal=none -o "$trace" npx vitest run --project "${PROJECT:-e2e}" "$@" || echo "measure: some e2e tests failed under strace; the trace still holds what ran" >&2
cp "$backup" "$defaults"
echo "measure: wrote $trace; now: node scripts/seccomp/gen-default-filters.mjs --out $defaults $trace [MORE_TRACES...]"
