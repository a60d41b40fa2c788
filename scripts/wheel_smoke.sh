#!/usr/bin/env bash
# What a user of a release gets: build the wheel, install it into a fresh venv outside the
# checkout, and use it from a directory that is not the checkout:
#   1. jiayi serve on a free loopback port, GET /metadata and the web console's page and assets;
#   2. jiayi import of a small public-health CSV (个人基本信息表) into that server, read back;
#   3. jiayi hl7 convert of an HL7 v2 message (ADT^A04) into a transaction Bundle;
#   4. jiayi validate of a valid and of an invalid resource;
#   5. jiayi conformance run --only metadata against the server of step 1 (before step 2).
# Any failing step fails the script (and CI, which calls it after the test suite).
#
#   scripts/wheel_smoke.sh            # uses python3 from PATH to make the venv
#   PYTHON=python3.12 scripts/wheel_smoke.sh
set -euo pipefail

checkout="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/jiayi-wheel-smoke.XXXXXX")"
server_pid=""

cleanup() {
  if [ -n "$server_pid" ]; then  # the server's own process group: gunicorn master and workers
    kill -TERM -- "-$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true  # gunicorn's graceful timeout bounds this
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== wheel smoke: %s\n' "$*"; }
fail() { printf 'wheel smoke FAILED: %s\n' "$*" >&2; exit 1; }

step "build the wheel"
"$python" -m venv "$work/venv"
venv="$work/venv/bin"
"$venv/pip" install -q --upgrade pip >/dev/null
"$venv/pip" wheel -q --no-deps -w "$work/dist" "$checkout"
wheel="$(ls "$work"/dist/jiayi-*.whl)"
echo "$wheel"

step "install it into a fresh venv ($work/venv)"
"$venv/pip" install -q "$wheel"

# Everything below runs outside the checkout, with the installed package only.
mkdir "$work/run"
cd "$work/run"
"$venv/python" - "$checkout" <<'EOF'
import sys
from pathlib import Path

import adapters.data_files
import fhir_server

checkout = Path(sys.argv[1]).resolve()
for module in (fhir_server, adapters.data_files):
    where = Path(module.__file__).resolve()
    if where.is_relative_to(checkout):
        sys.exit(f"{module.__name__} is imported from the checkout ({where}), not from the wheel")
if not (adapters.data_files.mappings_dir("publichealth") / "resident.csv").is_file():
    sys.exit(f"the wheel carries no mappings/ (looked in {adapters.data_files.mappings_dir()})")
print("installed package:", Path(fhir_server.__file__).parent.parent)
EOF

step "jiayi serve, GET /metadata"
port="$("$venv/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port/fhir"
set -m  # the server gets a process group of its own, so that cleanup stops its workers too
"$venv/jiayi" serve --host 127.0.0.1 --port "$port" --database "sqlite:///$work/run/smoke.sqlite3" \
  >"$work/server.log" 2>&1 </dev/null &
server_pid=$!
set +m
"$venv/python" - "$base" "$server_pid" <<'EOF' || { tail -n 40 "$work/server.log" >&2; fail "the server did not answer /metadata"; }
import json, os, sys, time, urllib.request

base, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("jiayi serve exited")
    try:
        with urllib.request.urlopen(f"{base}/metadata", timeout=5) as answer:
            body = json.load(answer)
        assert body["resourceType"] == "CapabilityStatement", body.get("resourceType")
        print("CapabilityStatement", body.get("fhirVersion"))
        root = base.removesuffix("/fhir")  # the web console's page and its vendored assets ship in the wheel
        for path in ("/console/static/echarts.min.js", "/console/static/console.js"):
            with urllib.request.urlopen(root + path, timeout=30) as answer:
                assert answer.status == 200 and answer.read(), path
        print("console and its assets served")
        sys.exit(0)
    except OSError:
        time.sleep(0.2)
sys.exit("no answer in 60 s")
EOF

step "jiayi conformance run --only metadata (the IG's TestScripts ship in the wheel)"
"$venv/jiayi" conformance run --target "$base" --only metadata --output "$work/run/conformance" \
  || fail "jiayi conformance run"
test -s "$work/run/conformance/report.html" || fail "no conformance report"

step "jiayi import a public-health CSV (3 residents)"
head -n 4 "$checkout/tests/data/publichealth/resident.csv" >"$work/run/resident.csv"
"$venv/jiayi" import --type resident --server "$base" --on-error reject --quiet "$work/run/resident.csv" \
  || fail "jiayi import"
"$venv/python" - "$base" <<'EOF' || fail "the imported residents are not on the server"
import json, sys, urllib.request

with urllib.request.urlopen(f"{sys.argv[1]}/Patient?_summary=count", timeout=30) as answer:
    total = json.load(answer)["total"]
assert total == 3, f"expected 3 residents, the server has {total}"
print("residents on the server:", total)
EOF

step "jiayi hl7 convert an ADT^A04"
"$venv/jiayi" hl7 convert "$checkout/tests/data/hl7v2/cn-adt-a04.hl7" >"$work/run/a04.json" || fail "jiayi hl7 convert"
"$venv/python" - "$work/run/a04.json" <<'EOF' || fail "jiayi hl7 convert printed no transaction Bundle with a Patient"
import json, sys

bundle = json.load(open(sys.argv[1], encoding="utf-8"))
assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction", bundle.get("type")
types = sorted({e["resource"]["resourceType"] for e in bundle["entry"]})
assert "Patient" in types, types
print("transaction Bundle:", ", ".join(types))
EOF

step "jiayi validate a valid and an invalid resource"
"$venv/jiayi" validate "$checkout/profiles/examples/Patient-example-resident-wang.json" || fail "a valid example was refused"
printf '{"resourceType": "Patient", "gender": "unknown-value"}' >"$work/run/invalid.json"
if "$venv/jiayi" validate "$work/run/invalid.json"; then fail "an invalid Patient was accepted"; fi

printf '\nwheel smoke: all steps passed\n'
