#!/usr/bin/env bash
# Install every build and test dependency (Debian 12) and build vtdnest.
# Usage: scripts/setup.sh [BUILD_DIR] [extra meson options...]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
shift || true

packages=(build-essential meson ninja-build pkg-config libglib2.0-dev
          libjson-glib-dev libcmocka-dev libpci-dev)
# Optional: QEMU 7.2 as a reference for the comparison tests (skipped if absent).
optional=(qemu-system-x86)

missing=()
for p in "${packages[@]}" "${optional[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # The optional package may be unavailable; the required ones may not.
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${optional[@]}" ||
        echo "setup: optional ${optional[*]} not installed; QEMU comparison tests will skip"
fi

if [ -d "$build" ]; then
    meson setup --reconfigure "$build" "$@"
else
    meson setup "$build" "$@"
fi
ninja -C "$build"
