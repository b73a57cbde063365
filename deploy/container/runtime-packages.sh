#!/usr/bin/env bash
# Prints the Debian packages that provide the shared libraries the given binaries link directly
# (their DT_NEEDED entries, located by the dynamic linker and looked up in dpkg's database), one
# per line, sorted. The image installs exactly these; apt adds their own dependencies. Run on the
# Debian release the binaries were built on.
#
#   deploy/container/runtime-packages.sh build/release/collector/vigil-collector build/release/vigilctl/vigilctl
set -euo pipefail
if [[ $# -eq 0 ]]; then
  echo "usage: $0 BINARY..." >&2
  exit 2
fi
for bin in "$@"; do
  needed=$(objdump -p "$bin" | awk '$1 == "NEEDED" {print $2}')
  resolved=$(ldd "$bin")
  for soname in $needed; do
    path=$(awk -v s="$soname" '$1 == s && $2 == "=>" {print $3}' <<<"$resolved")
    if [[ -z "$path" || "$path" == "not" ]]; then
      echo "$0: $bin needs $soname, which is not installed" >&2
      exit 1
    fi
    # dpkg knows a library under the path its package ships (/lib or /usr/lib): try both.
    owner=$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null ||
            dpkg -S "${path#/usr}" 2>/dev/null || true)
    if [[ -z "$owner" ]]; then
      echo "$0: no Debian package owns $path ($soname, needed by $bin)" >&2
      exit 1
    fi
    echo "${owner%%:*}"
  done
done | sed 's/:[a-z0-9]*$//' | sort -u
