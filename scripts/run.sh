#!/usr/bin/env bash
# Run the corral daemon: installs what it needs first. Arguments go to `corral run`
# (e.g. --redis-url redis://host:6379/0, --queue NAME=module:function@CONCURRENCY, --max-workers 8).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"
exec corral run "$@"
