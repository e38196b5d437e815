#!/usr/bin/env bash
# Installs a Qatys terminal on Raspberry Pi OS / Debian 12 (aarch64 or x86_64), as root:
#
#   sudo hardware/install-terminal.sh --bundle qatys-0.1.0-linux_aarch64.tar \
#        --release-key qatys-release.pub [--camera 0]
#
# Debian packages from the distribution, the Qatys software from the signed release bundle
# (no compiler, no other downloads), systemd units for the terminal and the kiosk screen,
# the hardware watchdog, a RAM journal and log rotation. Running it again is safe: an
# installed release stays, a newer bundle is applied as an update. See hardware/README.md.
set -euo pipefail

bundle="" key="" camera=0 with_apt=1
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$2; shift 2 ;;
    --release-key) key=$2; shift 2 ;;
    --camera) camera=$2; shift 2 ;;
    --no-apt) with_apt=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install: unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit "${2:-1}"; }

[ "$(id -u)" = 0 ] || die "run as root (sudo)" 2
[ -n "$bundle" ] && [ -f "$bundle" ] || die "--bundle FILE: the signed release bundle is required" 2
case "$camera" in ''|*[!0-9]*) die "--camera must be a number (/dev/videoN)" 2 ;; esac
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || say "warning: made for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}"

keys_dir=/etc/qatys/release-keys
if [ -n "$key" ]; then
  [ -f "$key" ] || die "--release-key $key: no such file" 2
  base64 -d "$key" 2>/dev/null | wc -c | grep -qx 32 || die "--release-key is not a base64 Ed25519 public key" 2
  install -d -m 0755 "$keys_dir"
  install -m 0644 "$key" "$keys_dir/$(basename "$key" .pub).pub"
fi
ls "$keys_dir"/*.pub >/dev/null 2>&1 || die "no trusted release key: pass --release-key FILE" 2

# 1. Debian packages. The terminal runs in its own virtual environment; Debian's python3 and
#    python3-cryptography only check the bundle's signature before anything is installed.
debs=(python3 python3-venv python3-cryptography ca-certificates libzbar0 fonts-dejavu-core
      chromium cage dbus libpam-systemd systemd systemd-timesyncd logrotate v4l-utils sqlite3)
if [ "$with_apt" = 1 ]; then
  say "Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

# 2. Users: the terminal service (camera, GPIO) and the screen (display, input).
for user in qatys qatys-kiosk; do
  id "$user" >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin --user-group "$user"
done
add_to_groups() {  # only the groups this machine has (gpio exists on Raspberry Pi OS)
  local user=$1; shift
  for group in "$@"; do
    if getent group "$group" >/dev/null; then usermod -aG "$group" "$user"; fi
  done
}
add_to_groups qatys video gpio
add_to_groups qatys-kiosk video render input

# 3. The software, from the signed bundle: checked by the bundle's own updater, then built as
#    /opt/qatys/releases/<version> and pointed to by /opt/qatys/current.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
wheel=$(tar -tf "$bundle" | grep -E '^wheels/qatys-[0-9][0-9.]*-py3-none-any\.whl$' | head -n1) \
  || die "the bundle has no qatys wheel" 2
tar -xf "$bundle" -C "$scratch" "$wheel"
updater=(env PYTHONPATH="$scratch/$wheel" python3 -m terminal.updater --root /opt/qatys --keys "$keys_dir")
if [ -L /opt/qatys/current ]; then
  say "Qatys is installed ($(readlink /opt/qatys/current)); applying the bundle as an update"
  set +e; "${updater[@]}" apply "$bundle" --python python3; status=$?; set -e
  [ "$status" = 0 ] || [ "$status" = 2 ] || die "update failed (exit $status)" "$status"
else
  say "Qatys from $(basename "$bundle")"
  "${updater[@]}" install "$bundle" --python python3
fi
for tool in qatys qatys-update; do
  printf '#!/bin/sh\nexec /opt/qatys/current/bin/%s "$@"\n' "$tool" > "/usr/local/bin/$tool"
  chmod 0755 "/usr/local/bin/$tool"
done

# 4. Data, settings and units.
install -d -o qatys -g qatys -m 0700 /var/lib/qatys /var/lib/qatys/terminal
install -d -m 0755 /etc/qatys /usr/share/doc/qatys
[ -f /etc/qatys/terminal.env ] || install -m 0644 "$here/etc/terminal.env" /etc/qatys/terminal.env
sed -i "s/^QATYS_CAMERA=.*/QATYS_CAMERA=$camera/" /etc/qatys/terminal.env
install -m 0644 "$here/README.md" /usr/share/doc/qatys/hardware.md
install -m 0644 "$here"/systemd/qatys-terminal.service "$here"/systemd/qatys-kiosk.service /etc/systemd/system/
install -d -m 0755 /etc/systemd/journald.conf.d /etc/systemd/system.conf.d /etc/chromium/policies/managed
install -m 0644 "$here/etc/journald-qatys.conf" /etc/systemd/journald.conf.d/qatys.conf
install -m 0644 "$here/etc/watchdog-qatys.conf" /etc/systemd/system.conf.d/qatys-watchdog.conf
install -m 0644 "$here/etc/logrotate-qatys" /etc/logrotate.d/qatys
install -m 0644 "$here/etc/chromium-policy.json" /etc/chromium/policies/managed/qatys.json

# 5. Read-mostly: /tmp in RAM, no swap file on the SD card (see hardware/README.md).
if [ -e /usr/share/systemd/tmp.mount ] && [ ! -e /etc/systemd/system/tmp.mount ]; then
  cp /usr/share/systemd/tmp.mount /etc/systemd/system/tmp.mount
fi
if [ -e /etc/systemd/system/tmp.mount ]; then systemctl enable tmp.mount >/dev/null 2>&1; fi
if systemctl list-unit-files dphys-swapfile.service >/dev/null 2>&1; then
  systemctl disable dphys-swapfile.service >/dev/null 2>&1 || true
fi

systemctl enable qatys-terminal.service qatys-kiosk.service >/dev/null 2>&1
systemctl set-default graphical.target >/dev/null 2>&1
systemctl mask getty@tty1.service >/dev/null 2>&1
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl restart systemd-journald qatys-terminal.service qatys-kiosk.service
  say "started; the screen asks for the enrolment code (qatys terminal token --qr)"
else
  say "installed; the terminal starts at the next boot (no running systemd here)"
fi
say "done: $(readlink /opt/qatys/current)"
