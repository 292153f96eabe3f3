#!/usr/bin/env bash
# Installs the Debian packages Veriscan needs, when they are missing.
# Run by `make install`; safe to run again. Needs root (or sudo) only when installing.
set -euo pipefail

# libmagic1: content types; clamav-daemon: the local ClamAV engine (tests start their own
# clamd); poppler-utils: pdftoppm, which the tests use to render exported PDFs;
# fonts-dejavu-core: fonts with wide Unicode coverage for PDF reports; chromium: the
# headless browser the dashboard tests drive (Playwright, never a browser download);
# qemu-user: runs the CLIP encoder's test on an emulated x86 CPU without VNNI, whose
# integer kernels differ (tests/analyzers/test_models.py).
packages=(libmagic1 clamav-daemon poppler-utils fonts-dejavu-core chromium qemu-user)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: please install ${missing[*]} with your package manager" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "system-deps: run as root, or install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
