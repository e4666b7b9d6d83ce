#!/usr/bin/env bash
# Prepare this checkout to run PHMS: the few system libraries Qt needs (Debian/Ubuntu),
# a virtual environment in .venv, and PHMS with its test tools installed in it.
# Safe to run again: it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

packages=()
python3 -c 'import ensurepip, venv' 2>/dev/null || packages+=(python3-venv)
if command -v dpkg-query >/dev/null 2>&1; then
    # Qt's runtime libraries (offscreen and X11) and one font, as on a desktop.
    for pkg in libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 \
               libglib2.0-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 \
               libxcb-render-util0 libxcb-shape0 libxcb-randr0 libxcb-xinerama0 fonts-dejavu-core; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || packages+=("$pkg")
    done
fi
if ((${#packages[@]})); then
    if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
        echo "setup: please install these Debian packages first: ${packages[*]}" >&2; exit 1
    fi
    echo "setup: installing system packages: ${packages[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${packages[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
echo "setup: ready (.venv)"
