#!/usr/bin/env bash
# Installs what Qatys needs and is missing, quickly when nothing is.
#   scripts/install.sh            the runtime: Debian packages (as root), .venv, the package
#   scripts/install.sh --test     also what `make test` needs (PostgreSQL server, HAProxy, Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

debs=(python3-venv python3-pip libzbar0 fonts-dejavu-core node-qrcode-generator)
[ "$want_test" = 1 ] && debs+=(postgresql haproxy chromium poppler-utils faketime debootstrap
                           mmdebstrap arch-test qemu-user-static binfmt-support cage xwayland
                           grim linux-perf valgrind)

missing=()
for pkg in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "install: Debian packages ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install: please install these Debian packages first: sudo apt-get install ${missing[*]}" >&2
    # python3-venv may be provided another way (pyenv, a distribution build); go on and let venv tell.
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "install: creating .venv with $($PY --version)"
  $PY -m venv .venv
fi

stamp=.venv/.qatys-installed
sum=$(cat pyproject.toml requirements-nodeps.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  echo "install: Python packages into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[server,dev]'
  # face_recognition's metadata asks for dlib, which would compile; dlib-bin (a wheel) is it.
  .venv/bin/python -m pip install -q --no-deps -r requirements-nodeps.txt
  echo "$sum" > "$stamp"
fi
