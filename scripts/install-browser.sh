#!/usr/bin/env bash
# Installs headless Chromium and its WebDriver from Debian packages for tests/test_dashboard.py.
# Does nothing when they are already there. Needs root (CI and the developer machines run as root).
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
/usr/bin/chromium --version
