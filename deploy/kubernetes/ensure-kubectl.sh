#!/usr/bin/env bash
# Test fixture: makes sure a kubectl that can render kustomizations is on PATH. Uses the one
# installed (any kubectl >= 1.20); otherwise installs Debian's kubernetes-client (kubectl 1.20,
# kustomize v2.0.3 embedded). Not in scripts/packages-test.txt because it would conflict with an
# installed kubectl from another source (both ship /usr/bin/kubectl).
set -euo pipefail
if ! command -v kubectl >/dev/null; then
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "no kubectl on PATH; install kubernetes-client (Debian) or kubectl" >&2
    exit 1
  fi
  echo "no kubectl on PATH: installing Debian's kubernetes-client"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends kubernetes-client >/dev/null; }
fi
kubectl version --client 2>&1 | head -2
