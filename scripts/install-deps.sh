#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages-*.txt that are missing. Idempotent:
# when everything is installed it only reads dpkg's database (well under a second).
# Usage: scripts/install-deps.sh [build|test|all]   (default: all)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
lists=("$here/packages-build.txt")
case "${1:-all}" in
  build) ;;
  test|all) lists+=("$here/packages-test.txt") ;;
  *) echo "usage: $0 [build|test|all]" >&2; exit 2 ;;
esac
wanted=$(grep -hv '^\s*#' "${lists[@]}" | awk 'NF {print $1}' | sort -u)
missing=()
for p in $wanted; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
