#!/usr/bin/env bash
# Builds the vigil-collector runtime image without a container registry: a Debian 12 root made
# with debootstrap from the apt mirror this machine uses, trimmed as debian:bookworm-slim is,
# plus the runtime libraries of the binaries built on this host, the vigil user and the two
# programs; buildah turns it into an image. Same contents and configuration as the runtime stage
# of the Containerfile beside this script (README.md lists both).
#
#   deploy/container/build-image.sh [--collector BIN] [--vigilctl BIN] [--work DIR] [--base DIR]
#                                   [--tag TAG]
#
# Defaults: the binaries of build/release, work directory build/container-image, the debootstrap
# root in --base (default WORK/bookworm-slim; made once and reused, updated at every package
# install), tag localhost/vigil-collector:<version>. Output: the image in
# buildah's storage under DIR/storage and as DIR/vigil-collector.oci.tar (an OCI archive:
# `podman load -i`, `skopeo copy oci-archive:... docker://REGISTRY/...`, or
# `ctr -n k8s.io images import` on a node). The assembled root stays in DIR/rootfs.
#
# Needs root, debootstrap, buildah and a reachable Debian mirror; exits 77 (skipped) when
# something is missing, so a test can tell "cannot run here" from "failed".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
collector=$repo/build/release/collector/vigil-collector
vigilctl=$repo/build/release/vigilctl/vigilctl
work=$repo/build/container-image
base=
tag=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --collector) collector=$2; shift 2 ;;
    --vigilctl) vigilctl=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    *) echo "usage: $0 [--collector BIN] [--vigilctl BIN] [--work DIR] [--base DIR] [--tag TAG]" >&2; exit 2 ;;
  esac
done

skip() { echo "SKIP: $*" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot)"
for tool in debootstrap buildah chroot objdump; do
  command -v "$tool" >/dev/null || skip "$tool is not installed (apt-get install debootstrap buildah binutils)"
done
for bin in "$collector" "$vigilctl"; do
  [[ -x "$bin" ]] || { echo "$0: $bin is not built" >&2; exit 1; }
done
version=$("$collector" --version | awk '{print $NF}')
tag=${tag:-localhost/vigil-collector:$version}

# The mirror apt uses here (deb822 .sources or one-line .list), and its security counterpart.
mirror_uris() {
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null || true; } | awk '/^deb / {print ($2 ~ /^\[/ ? $3 : $2)} /^URIs:/ {for (i = 2; i <= NF; i++) print $i}'
}
mirror=$(mirror_uris | grep -v -- '-security' | grep '/debian/\?$' | head -1)
security=$(mirror_uris | grep -- 'debian-security' | head -1 || true)
[[ -n "$mirror" ]] || skip "no Debian mirror in /etc/apt/sources.list*"

mkdir -p "$work"
work=$(cd "$work" && pwd)
base=${base:-$work/bookworm-slim}
mkdir -p "$(dirname "$base")"
rootfs=$work/rootfs

# 1. A bookworm root trimmed as the official slim image (no docs but copyrights, no man pages, no
#    locales), made once and kept.
if [[ ! -f "$base/.complete" ]]; then
  rm -rf "$base"
  echo "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$base" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; skip "debootstrap failed (mirror unreachable?)"; }
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    [[ -z "$security" ]] || echo "deb $security bookworm-security main"
  } >"$base/etc/apt/sources.list"
  cat >"$base/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  echo 'APT::Install-Recommends "false";' >"$base/etc/apt/apt.conf.d/90-no-recommends"
  find "$base/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$base"/usr/share/{man,groff,info,lintian,linda,locale}/*
  rm -rf "$base"/var/lib/apt/lists/* "$base"/var/cache/apt/archives/*.deb
  touch "$base/.complete"
fi

# 2. The runtime packages, as the Containerfile installs them; redone when the list changes.
packages=$( (echo ca-certificates; echo tzdata; "$here/runtime-packages.sh" "$collector" "$vigilctl") |
  sort -u | tr '\n' ' ')
if [[ ! -f "$rootfs/.packages" || "$(cat "$rootfs/.packages")" != "$packages" ]]; then
  rm -rf "$rootfs"
  cp -a "$base" "$rootfs"
  rm -f "$rootfs/.complete"
  echo "installing into the root: $packages"
  # shellcheck disable=SC2086
  { chroot "$rootfs" apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get upgrade -y -qq &&
    DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq $packages; } \
    >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log" >&2; exit 1; }
  chroot "$rootfs" groupadd --gid 10001 vigil
  chroot "$rootfs" useradd --no-log-init --uid 10001 --gid vigil --no-create-home \
    --home-dir /var/lib/vigil-collector --shell /usr/sbin/nologin vigil
  chroot "$rootfs" install -d -o vigil -g vigil -m 0750 /var/lib/vigil-collector
  chroot "$rootfs" install -d -m 0755 /etc/vigil/config /etc/vigil/rules
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/apt/* \
    "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
  echo "$packages" >"$rootfs/.packages"
fi

# 3. The programs and the default config (always: they change with every build).
install -m 0755 -s "$collector" "$rootfs/usr/bin/vigil-collector"
install -m 0755 -s "$vigilctl" "$rootfs/usr/bin/vigilctl"
install -m 0644 "$here/collector.yaml" "$rootfs/etc/vigil/config/collector.yaml"
if chroot "$rootfs" ldd /usr/bin/vigil-collector /usr/bin/vigilctl | grep 'not found'; then
  echo "$0: libraries missing in the image root" >&2
  exit 1
fi

# 4. The image: the root as one layer, the Containerfile's configuration.
buildah=(buildah --storage-driver vfs --root "$work/storage" --runroot "$work/run")
tar -C "$rootfs" --exclude=./.packages --numeric-owner -cf "$work/rootfs.tar" .
ctr=$("${buildah[@]}" from scratch)
trap '"${buildah[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
"${buildah[@]}" add --quiet "$ctr" "$work/rootfs.tar" / >/dev/null
rm -f "$work/rootfs.tar"
"${buildah[@]}" config \
  --user 10001:10001 --workingdir /var/lib/vigil-collector \
  --port 4317 --port 8080 \
  --entrypoint '["/usr/bin/vigil-collector"]' \
  --cmd '["--config", "/etc/vigil/config/collector.yaml"]' \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --label org.opencontainers.image.title=vigil-collector \
  --label "org.opencontainers.image.description=Vigil collector: agent ingest over gRPC, rule evaluation, alert delivery, HTTP API" \
  --label "org.opencontainers.image.version=$version" \
  "$ctr"
"${buildah[@]}" commit --quiet "$ctr" "$tag" >"$work/image-id"
"${buildah[@]}" rmi --prune >/dev/null 2>&1 || true  # the previous build's image, now untagged
rm -f "$work/vigil-collector.oci.tar"
"${buildah[@]}" push --quiet "$tag" "oci-archive:$work/vigil-collector.oci.tar:$tag"
echo "built $tag (image $(cut -c1-12 "$work/image-id")): $work/vigil-collector.oci.tar"
