#!/usr/bin/env bash
# Quick start, step 1: install, then start the server on the demo cluster in a real MCP client
# session and print what an assistant would see.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The demo refuses to run beside a real cluster's settings; a shell that has them keeps them, unused here.
exec env -u ZILLIZ_CLUSTER_ENDPOINT -u ZILLIZ_TOKEN .venv/bin/zilliz-refresh-mcp --demo --check
