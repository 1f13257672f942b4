#!/usr/bin/env bash
# Run every check: ruff, mypy, the worker-loading script and the whole pytest suite, against a real
# redis-server and real Node BullMQ 6 clients. Installs what it needs first.
#   scripts/test.sh                 everything (CI runs this)
#   scripts/test.sh -m "not slow"   skip the slow tier locally; other arguments go to pytest
set -euo pipefail
export BOOTSTRAP_DEV=1
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh"
cd "$ROOT"

echo "== ruff" && ruff check pool workers tests scripts
echo "== mypy" && mypy pool workers
echo "== worker loading" && python scripts/test_worker_loading.py
echo "== pytest"
set +e
python -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
