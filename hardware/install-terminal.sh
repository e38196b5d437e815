#!/usr/bin/env bash
# Installs a Qatys terminal on Raspberry Pi OS / Debian 12 (aarch64 or x86_64), as root:
#
#   sudo hardware/install-terminal.sh --bundle qatys-0.1.0-linux_aarch64.tar \
#        --release-key qatys-release.pub [--camera 0]
#
# Debian packages from the distribution, the Qatys software from the signed release bundle
# (no compiler, no other downloads), systemd units for the terminal and the kiosk screen,
# the hardware watchdog, a RAM journal and log rotation. The bundle's signature and every
# file's digest are checked with openssl and check-bundle.py before anything from the bundle
# runs; a refused bundle exits 2 and changes nothing. Running it again is safe: an installed
# release stays, a newer bundle is applied as an update. See hardware/README.md.
set -euo pipefail

bundle="" key="" camera=0 with_apt=1
while [ $# -gt 0 ]; do
  case "$1" in
    --bundle) bundle=$2; shift 2 ;;
    --release-key) key=$2; shift 2 ;;
    --camera) camera=$2; shift 2 ;;
    --no-apt) with_apt=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "install: unknown option $1" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "install: $*"; }
die() { echo "install: $1" >&2; exit "${2:-1}"; }
refuse() { echo "install: refused: $1: $2; nothing of the bundle was run or installed" >&2; exit 2; }

[ "$(id -u)" = 0 ] || die "run as root (sudo)" 2
[ -n "$bundle" ] && [ -f "$bundle" ] || die "--bundle FILE: the signed release bundle is required" 2
case "$camera" in ''|*[!0-9]*) die "--camera must be a number (/dev/videoN)" 2 ;; esac
. /etc/os-release
[ "${VERSION_CODENAME:-}" = bookworm ] || say "warning: made for Debian 12 (bookworm), this is ${PRETTY_NAME:-unknown}"

keys_dir=/etc/qatys/release-keys
trusted=()  # the installed release keys and --release-key (installed once the bundle verified)
if [ -n "$key" ]; then
  [ -f "$key" ] || die "--release-key $key: no such file" 2
  base64 -d "$key" 2>/dev/null | wc -c | grep -qx 32 || die "--release-key is not a base64 Ed25519 public key" 2
  trusted+=("$key")
fi
for installed in "$keys_dir"/*.pub; do [ -f "$installed" ] && trusted+=("$installed"); done
[ ${#trusted[@]} -gt 0 ] || die "no trusted release key: pass --release-key FILE" 2

# 1. Debian packages. The terminal runs in its own virtual environment; Debian's openssl and
#    python3 check the bundle (step 2), python3 and python3-cryptography run the verified
#    bundle's updater on a first installation.
#    Debian 12's cage exits at once without Xwayland (it is only recommended, and recommends
#    are not installed), so the screen would never start: xwayland is named here.
debs=(python3 python3-venv python3-cryptography openssl ca-certificates libzbar0 fonts-dejavu-core
      chromium cage xwayland dbus libpam-systemd systemd systemd-timesyncd logrotate v4l-utils sqlite3)
if [ "$with_apt" = 1 ]; then
  say "Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi

# 2. The bundle, checked with Debian's tools only (openssl, python3's standard library, tar,
#    coreutils), never with code from the bundle: release.sig must be a valid Ed25519
#    signature by a trusted key over "qatys-release-v1\n" + release.json (protocol/releases.py);
#    then check-bundle.py (python3 -I, standard library) checks every file of the bundle
#    against the SHA-256 the verified release.json lists and copies out the qatys wheel.
for tool in openssl python3 tar base32; do
  command -v "$tool" >/dev/null || die "$tool is needed to check the bundle (apt-get install openssl python3)" 1
done
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
member() {  # bundle member $1 into $2; regular files only (tar -O writes nothing for others)
  tar -xOf "$bundle" "$1" > "$2" 2>/dev/null || refuse malformed_release "the bundle has no $1"
}
keyid_of() {  # protocol/crypto.py fingerprint: base32 of the first 10 bytes of SHA-256
  openssl dgst -sha256 -binary "$1" | head -c 10 | base32
}
member release.json "$scratch/release.json"
member release.sig "$scratch/release.sig"
[ "$(wc -c < "$scratch/release.json")" -le 65536 ] || refuse malformed_release "release.json is too large"
[ "$(wc -c < "$scratch/release.sig")" -le 4096 ] || refuse malformed_release "release.sig is too large"
sig_re='^ed25519 keyid=([A-Z2-7]{16}) sig=([A-Za-z0-9+/=]{88})$'
[[ "$(tr -d '\r' < "$scratch/release.sig")" =~ $sig_re ]] \
  || refuse bad_signature "release.sig is not 'ed25519 keyid=... sig=...'"
keyid=${BASH_REMATCH[1]}
printf '%s' "${BASH_REMATCH[2]}" | base64 -d > "$scratch/sig.bin" 2>/dev/null \
  && [ "$(wc -c < "$scratch/sig.bin")" = 64 ] || refuse bad_signature "release.sig holds no Ed25519 signature"
signer=""
for file in "${trusted[@]}"; do
  base64 -d "$file" > "$scratch/key.raw" 2>/dev/null && [ "$(wc -c < "$scratch/key.raw")" = 32 ] \
    || { say "warning: $file is not a base64 Ed25519 public key, skipped"; continue; }
  if [ "$(keyid_of "$scratch/key.raw")" = "$keyid" ]; then signer=$file; break; fi
done
[ -n "$signer" ] || refuse unknown_key "the bundle is signed by key $keyid, which is not a trusted release key"
{ printf '\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00'; cat "$scratch/key.raw"; } > "$scratch/key.der"
{ echo "-----BEGIN PUBLIC KEY-----"; base64 -w0 "$scratch/key.der"; echo; echo "-----END PUBLIC KEY-----"; } \
  > "$scratch/key.pem"
{ printf 'qatys-release-v1\n'; cat "$scratch/release.json"; } > "$scratch/signed"
openssl pkeyutl -verify -pubin -inkey "$scratch/key.pem" -rawin -in "$scratch/signed" \
  -sigfile "$scratch/sig.bin" >/dev/null 2>&1 \
  || refuse bad_signature "release.sig does not verify over release.json with key $keyid"
set +e
checked=$(python3 -I "$here/check-bundle.py" "$bundle" "$scratch/release.json" "$scratch")
status=$?
set -e
case "$status" in
  0) ;;
  2) refuse "${checked%% *}" "${checked#* }" ;;
  *) die "check-bundle.py failed (exit $status)" 1 ;;
esac
read -r _ version wheel <<< "$checked"
say "bundle $(basename "$bundle") (version $version) signed by trusted key $keyid ($(basename "$signer"))"
if [ -n "$key" ]; then
  install -d -m 0755 "$keys_dir"
  install -m 0644 "$key" "$keys_dir/$(basename "$key" .pub).pub"
fi

# 3. Users: the terminal service (camera, GPIO) and the screen (display, input).
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

# 4. The software: built as /opt/qatys/releases/<version> and pointed to by /opt/qatys/current.
#    An installed Qatys applies the bundle with its own updater (which checks the bundle again,
#    all of it); a first installation runs the updater of the wheel verified in step 2, with
#    Debian's python3 and nothing from the current directory on its path (-P).
if [ -L /opt/qatys/current ]; then
  say "Qatys is installed ($(readlink /opt/qatys/current)); applying the bundle as an update"
  set +e
  answer=$(/opt/qatys/current/bin/qatys-update --root /opt/qatys --keys "$keys_dir" \
           apply "$bundle" --python python3)
  status=$?
  set -e
  echo "$answer"
  if [ "$status" = 2 ]; then  # an installed release stays for the same or an older bundle
    case "$answer" in
      *'"code": "same_version"'*|*'"code": "older_version"'*) ;;
      *) die "the installed updater refused the bundle: $answer" 2 ;;
    esac
  elif [ "$status" != 0 ]; then
    die "update failed (exit $status)" "$status"
  fi
else
  say "Qatys from $(basename "$bundle")"
  env PYTHONPATH="$scratch/${wheel#wheels/}" python3 -P -s -m terminal.updater --root /opt/qatys \
    --keys "$keys_dir" install "$bundle" --python python3
fi
for tool in qatys qatys-update; do
  printf '#!/bin/sh\nexec /opt/qatys/current/bin/%s "$@"\n' "$tool" > "/usr/local/bin/$tool"
  chmod 0755 "/usr/local/bin/$tool"
done

# 5. Data, settings and units.
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

# 6. Read-mostly: /tmp in RAM, no swap file on the SD card (see hardware/README.md).
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
