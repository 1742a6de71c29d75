#!/usr/bin/env bash
# Builds the guest agent as one static binary (it must run on any guest image, with no libc of
# its own there): build.sh OUT. Needs gcc and libc6-dev.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh OUT}
mkdir -p "$(dirname "$out")"
gcc -static -O2 -Wall -Wextra -Werror -std=gnu11 -o "$out.tmp" "$here"/agent.c "$here"/exec.c "$here"/files.c "$here"/wire.c
mv "$out.tmp" "$out"
