#!/bin/sh
# Smoke test of the built bundle (dist/folio/) as a user without Python would run it: from dist/,
# with a clean environment (no PYTHONPATH, no venv on PATH), a fresh HOME and FOLIO_HOME, offscreen
# Qt. Runs self-check, add of a PDF, search --json finding its page, add of a scanned PDF (no text
# layer: read by OCR with the bundled trained data) and search finding a word of it where it is
# drawn, and gui --screenshot.
# Fails on the first failure. Usage: packaging/ci_bundle.sh [--build]  (--build runs build.sh first)
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
python=${PYTHON:-$root/.venv/bin/python}  # only to make the test PDF and read the results
[ "${1:-}" = "--build" ] && packaging/build.sh
[ -x dist/folio/folio ] || { echo "FAIL: dist/folio/folio is missing: run packaging/build.sh" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/folio-bundle-ci.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/docs"

step() { echo; echo "== $*"; }
bundle() {  # the bundle, run from dist/ with nothing of this machine's Python around it
    (cd "$root/dist" && timeout 600 env -i HOME="$work/home" FOLIO_HOME="$work/library" \
        PATH=/usr/bin:/bin LANG=C.UTF-8 QT_QPA_PLATFORM=offscreen ./folio/folio "$@")
}

step "bundle: $(du -sh dist/folio | cut -f1) on disk"

step "folio self-check"
bundle self-check

step "folio add (a 3-page PDF; the passage to find is on page 2)"
"$python" - "$work/docs/ci-report.pdf" <<'PY'
import sys

import pymupdf

# Each page is long enough to be its own passages: short pages would be packed into one.
filler = {  # page number: its text
    1: "Revenue grew in every region this quarter, led by strong sales of the new bicycle line. ",
    2: "The zirconium flux valve must be recalibrated every forty-seven days by a technician. ",
    3: "The appendix lists the terms used in this report, from amortisation to working capital. ",
}
with pymupdf.open() as doc:
    for sentence in filler.values():
        page = doc.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 520, 770), sentence * 12, fontsize=11)
    doc.save(sys.argv[1])
PY
bundle add "$work/docs/ci-report.pdf" > "$work/add.txt"  # not piped: sh has no pipefail
cat "$work/add.txt"
grep -q "ci-report.pdf" "$work/add.txt" || { echo "FAIL: add did not report the PDF" >&2; exit 1; }

step "folio search --json"
bundle search --json "zirconium flux valve recalibrated" > "$work/hits.json"
"$python" - "$work/hits.json" <<'PY'
import json
import sys

hits = json.load(open(sys.argv[1], encoding="utf-8"))
top = hits[0] if hits else {}
print(f"top hit: {top.get('title')!r} page {top.get('page')} label {top.get('page_label')!r}")
if top.get("title") != "ci-report" or "zirconium" not in top.get("text", "") or top.get("page") != 2:
    sys.exit("FAIL: the top hit is not page 2 of the added PDF")
PY

step "folio add --json (a scanned PDF: an image of text, no text layer, read by OCR)"
# The scan is made with the tests' own scan maker (tests/fixtures/scans.py): text rendered at
# 200 dpi, tilted 1 degree, speckled, put back as a JPEG; the word's true place goes to where.json.
PYTHONPATH="$root" "$python" - "$work/docs/ci-scan.pdf" "$work/where.json" <<'PY'
import json
import sys
from pathlib import Path

from tests.fixtures import scans

RARE = "quillmarrow"
[page] = scans.make_scan_pdf(Path(sys.argv[1]), pages=1, dpi=200, angle=1.0, noise=10.0,
                             rare=RARE)
[where] = [w.rect for w in page.words if w.text == RARE]
json.dump({"word": RARE, "rect": where}, open(sys.argv[2], "w", encoding="utf-8"))
PY
bundle add --json "$work/docs/ci-scan.pdf" > "$work/add-scan.json"
cat "$work/add-scan.json"
"$python" - "$work/add-scan.json" <<'PY'
import json
import sys

[outcome] = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8") if line.strip()]
if outcome["status"] != "added" or outcome["ocr_pages"] != 1:
    sys.exit(f"FAIL: the scan was not read by OCR: {outcome}")
PY

step "folio search --json (a word of the scan, on its page, under its highlight)"
bundle search --json quillmarrow > "$work/scan-hits.json"
"$python" - "$work/scan-hits.json" "$work/where.json" <<'PY'
import json
import sys

hits = json.load(open(sys.argv[1], encoding="utf-8"))
where = json.load(open(sys.argv[2], encoding="utf-8"))
top = hits[0] if hits else {}
print(f"top hit: {top.get('title')!r} page {top.get('page')}: {top.get('text', '')[:60]!r}...")
if top.get("title") != "ci-scan" or top.get("page") != 1 or where["word"] not in top.get("text", ""):
    sys.exit("FAIL: the top hit is not the scanned page with the word")
x0, y0, x1, y1 = where["rect"]
cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
if not any(r["x0"] <= cx <= r["x1"] and r["y0"] <= cy <= r["y1"] for r in top["rects"]):
    sys.exit(f"FAIL: no rectangle of the hit covers the word at {where['rect']}")
PY

step "folio gui --screenshot"
if [ ! -f desktop/app.py ]; then
    echo "SKIP: desktop/app.py does not exist yet"
else
    bundle gui --screenshot "$work/window.png"
    "$python" - "$work/window.png" <<'PY'
import sys

import pymupdf

pixmap = pymupdf.Pixmap(sys.argv[1])
print(f"screenshot: {pixmap.width}x{pixmap.height}")
if pixmap.width < 400 or pixmap.height < 300:
    sys.exit("FAIL: the screenshot is too small to be the window")
PY
fi

echo; echo "bundle smoke test: OK"
