#!/usr/bin/env bash
# Makes a git worktree of this checkout on a new branch, with the ignored build outputs
# (node_modules, the native addon, built guests and kernels) copied so tests run at once.
# Usage: scripts/dev/worktree.sh DIR BRANCH
set -euo pipefail
dir=$1 branch=$2
root=$(git rev-parse --show-toplevel)
git -C "$root" worktree add -q "$dir" -b "$branch"
cd "$root"
git status --ignored --porcelain | sed -n 's/^!! //p' | grep -v '\.turbo/$' | while read -r p; do
  mkdir -p "$dir/$(dirname "$p")"
  cp -a "$p" "$dir/$(dirname "$p")/"
done
echo "worktree $dir on branch $branch"
