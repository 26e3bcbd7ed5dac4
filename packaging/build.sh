#!/bin/sh
# Builds dist/folio/ from build.spec with the project's venv; prints build time and bundle size.
# Usage: packaging/build.sh [--clean]   (PYTHON=... to use another interpreter)
set -eu
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
"$python" -m PyInstaller --version >/dev/null 2>&1 || {
    echo "PyInstaller is missing: $python -m pip install -e '.[build]'" >&2; exit 2; }
start=$(date +%s)
"$python" -m PyInstaller --noconfirm --log-level WARN "$@" build.spec
end=$(date +%s)
echo "build time: $((end - start)) s"
echo "bundle size: $(du -sh dist/folio | cut -f1) on disk (dist/folio)"
