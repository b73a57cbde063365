#!/usr/bin/env bash
# Tests of the vigil-agent, vigil-collector and vigilctl packages (ctest label `packaging`; the
# steps are registered in deploy/packages/CMakeLists.txt and run in this order):
#   build      cpack builds the three .deb and the three .rpm from the built tree
#   lintian    lintian: no error and no warning (overrides explained in lintian-overrides/)
#   rpmlint    rpmlint: no error and no warning (filters explained in rpmlint.toml)
#   rpm-query  each .rpm's files, modes, config flags, scripts and Requires, with rpm -qp
#   root       a minimal Debian root (debootstrap, same release and mirror as this machine) with
#              the packages' runtime dependencies, cached under the build directory
#   agent      vigil-agent in a fresh copy of that root: dpkg -i, files, user, unit, binary,
#              conf.d, SIGTERM flush, upgrade over a changed config, remove, purge; the
#              maintainer scripts with and without systemd
#   collector  vigilctl + vigil-collector likewise, and the collector answers /readyz
# The binaries run in the root under the service users, in a network namespace of their own
# (unshare -n), so they never touch this machine's ports.
# Environment (set by ctest): VIGIL_BUILD_DIR, VIGIL_SOURCE_DIR, VIGIL_PACKAGES_WORK,
# VIGIL_VERSION. Optional: VIGIL_DEBIAN_MIRROR (default: the mirror apt uses here).
# Exit status: 0 pass, 1 fail, 77 skipped (not root, or the Debian mirror is unreachable).
set -euo pipefail

step=${1:?usage: packages-test.sh build|lintian|rpmlint|rpm-query|root|agent|collector}
build=${VIGIL_BUILD_DIR:?}
src=${VIGIL_SOURCE_DIR:?}
work=${VIGIL_PACKAGES_WORK:?}
version=${VIGIL_VERSION:?}
out=$work/out
gen=$build/deploy/packages/generated
deb_arch=$(dpkg --print-architecture)
rpm_arch=$(uname -m)

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
skip() {
  echo "SKIP: $*" >&2
  exit 77
}
need() {
  local tool
  for tool; do
    command -v "$tool" >/dev/null ||
      fail "$tool is not installed (scripts/packages-test.txt; bash scripts/install-deps.sh)"
  done
}
# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
  [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
}
# expect_lines WHAT ACTUAL EXPECTED: multi-line values, shown as a diff when they differ.
expect_lines() {
  [ "$2" = "$3" ] || fail "$1 differs (- expected, + actual):
$(diff <(printf '%s\n' "$3") <(printf '%s\n' "$2") || true)"
}
expect_grep() {  # WHAT PATTERN TEXT
  grep -qE -- "$2" <<<"$3" || fail "$1: no line matches /$2/ in:
$3"
}
expect_no_grep() {
  ! grep -qE -- "$2" <<<"$3" || fail "$1: unexpected /$2/ in:
$3"
}

deb_of() { echo "$out/${1}_${version}_${deb_arch}.deb"; }
rpm_of() { echo "$out/${1}-${version}-1.${rpm_arch}.rpm"; }
packages=(vigil-agent vigil-collector vigilctl)

# The shared libraries (sonames) a program in a .deb needs.
needed_sonames() {  # DEB PATH
  local tmp
  tmp=$(mktemp)
  dpkg-deb --fsys-tarfile "$1" | tar -xOf - ".$2" >"$tmp"
  objdump -p "$tmp" | awk '$1 == "NEEDED" { print $2 }' | sort -u
  rm -f "$tmp"
}

# Depends must name the package of every shared library the program needs (however it is
# linked: what is linked statically needs nothing), so dpkg -i never installs a program that
# cannot start. The library's package is asked of this machine's dpkg, under every path it may
# know the file by (merged /usr: /lib/... or /usr/lib/..., the link's or its target's), in one
# call.
expect_depends_cover() {  # DEB PATH
  local depends names soname lib p pkg owners sonames=() paths=()
  local -A lib_of
  depends=$(dpkg-deb -f "$1" Depends)
  names=$(tr ',' '\n' <<<"$depends" | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g')
  mapfile -t sonames < <(needed_sonames "$1" "$2")
  for soname in "${sonames[@]}"; do
    lib=$(ldconfig -p | awk -v s="$soname" '$1 == s && !found { print $NF; found = 1 }')
    [ -n "$lib" ] || fail "$2 needs $soname, which this machine does not have"
    lib_of[$soname]=$lib
    for p in "$lib" "$(readlink -f "$lib")"; do paths+=("$p" "${p#/usr}" "/usr${p#/usr}"); done
  done
  # "package[:arch]: path" per file dpkg knows; unknown paths only complain on stderr.
  owners=$(dpkg -S "${paths[@]}" 2>/dev/null || true)
  for soname in "${sonames[@]}"; do
    lib=${lib_of[$soname]}
    pkg=$(awk -v a="$lib" -v b="$(readlink -f "$lib")" '
      { path = $NF; sub(/:.*/, "", $1) }
      !found && (path == a || path == b || "/usr" path == a || "/usr" path == b ||
                 path == "/usr" a || path == "/usr" b) { print $1; found = 1 }' <<<"$owners")
    [ -n "$pkg" ] || fail "no package owns $lib ($soname, needed by $2)"
    grep -qx "$pkg" <<<"$names" ||
      fail "$(basename "$1"): $2 needs $soname (package $pkg), which Depends lacks: $depends"
  done
}

# Requires must name every shared library the program needs, as rpm's soname dependencies.
expect_requires_cover() {  # RPM DEB PATH
  local req soname
  req=$(rpm -qpR "$1")
  for soname in $(needed_sonames "$2" "$3"); do
    grep -qx "$soname()(64bit)" <<<"$req" || fail "$(basename "$1") lacks Requires: $soname()(64bit)"
  done
}

# ---------------------------------------------------------------------------------------------
step_build() {
  need cpack dpkg-shlibdeps rpmbuild
  rm -rf "$out"
  mkdir -p "$out"
  if ! cpack --config "$build/CPackConfig.cmake" -G "DEB;RPM" -B "$out" >"$out/cpack.log" 2>&1; then
    cat "$out/cpack.log" >&2
    fail "cpack failed"
  fi
  rm -rf "$out/_CPack_Packages"
  local p
  for p in "${packages[@]}"; do
    [ -s "$(deb_of "$p")" ] || fail "$(deb_of "$p") was not built; have: $(ls "$out")"
    [ -s "$(rpm_of "$p")" ] || fail "$(rpm_of "$p") was not built; have: $(ls "$out")"
  done
  ls -l "$out"
}

step_lintian() {
  need lintian
  local p rc=0 as_nobody=""
  if [ "$(id -u)" -eq 0 ]; then
    as_nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"
  fi
  for p in "${packages[@]}"; do
    # --fail-on warning: a warning fails the test too, unless an override explains it.
    # As nobody when run as root: lintian warns against running with root privileges.
    $as_nobody lintian --fail-on error,warning --tag-display-limit 0 --display-info \
      --show-overrides "$(deb_of "$p")" || rc=1
  done
  [ $rc -eq 0 ] || fail "lintian found errors or warnings"
  echo "lintian: no errors or warnings"
}

step_rpmlint() {
  need rpmlint
  local rpms=() p log
  for p in "${packages[@]}"; do rpms+=("$(rpm_of "$p")"); done
  log=$(rpmlint -c "$gen/rpmlint.toml" "${rpms[@]}" 2>&1) || true
  echo "$log"
  expect_grep "rpmlint summary" "^ *3 packages and 0 specfiles checked; 0 errors, 0 warnings" "$log"
}

step_rpm_query() {
  need rpm objdump
  local agent collector ctl
  agent=$(rpm_of vigil-agent)
  collector=$(rpm_of vigil-collector)
  ctl=$(rpm_of vigilctl)
  local files
  files='[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]'

  expect_lines "vigil-agent.rpm files" "$(rpm -qp --qf "$files" "$agent")" \
"drwxr-xr-x root root  /etc/vigil
-rw-r--r-- root root cn /etc/vigil/agent.yaml
drwxr-xr-x root root  /etc/vigil/conf.d
-rwxr-xr-x root root  /usr/bin/vigil-agent
-rw-r--r-- root root  /usr/lib/systemd/system/vigil-agent.service
drwxr-xr-x root root  /usr/share/doc/vigil-agent
-rw-r--r-- root root d /usr/share/doc/vigil-agent/changelog.gz
-rw-r--r-- root root d /usr/share/doc/vigil-agent/copyright
drwxr-xr-x root root  /usr/share/doc/vigil-agent/examples
-rw-r--r-- root root d /usr/share/doc/vigil-agent/examples/agent.example.yaml
-rw-r--r-- root root  /usr/share/lintian/overrides/vigil-agent
-rw-r--r-- root root d /usr/share/man/man1/vigil-agent.1.gz"
  expect_lines "vigilctl.rpm files" "$(rpm -qp --qf "$files" "$ctl")" \
"-rwxr-xr-x root root  /usr/bin/vigilctl
drwxr-xr-x root root  /usr/share/doc/vigilctl
-rw-r--r-- root root d /usr/share/doc/vigilctl/changelog.gz
-rw-r--r-- root root d /usr/share/doc/vigilctl/copyright
-rw-r--r-- root root d /usr/share/man/man1/vigilctl.1.gz"
  local cfiles
  cfiles=$(rpm -qp --qf "$files" "$collector")
  expect_grep "vigil-collector.rpm config" "^-rw-r--r-- root root cn /etc/vigil/collector.yaml$" \
    "$cfiles"
  expect_grep "vigil-collector.rpm rules dir" "^drwxr-xr-x root root  /etc/vigil/rules$" "$cfiles"
  expect_grep "vigil-collector.rpm binary" "^-rwxr-xr-x root root  /usr/bin/vigil-collector$" \
    "$cfiles"
  expect_grep "vigil-collector.rpm unit" " /usr/lib/systemd/system/vigil-collector.service$" \
    "$cfiles"
  expect_grep "vigil-collector.rpm shipped rules" \
    " /usr/share/doc/vigil-collector/examples/rules/agent.yaml$" "$cfiles"
  expect_lines "vigil-collector.rpm config files" "$(rpm -qpc "$collector")" \
"/etc/vigil/collector.yaml
/etc/vigil/rules/agent.yaml"
  expect_eq "vigil-agent.rpm config files" "$(rpm -qpc "$agent")" "/etc/vigil/agent.yaml"

  # Requires: computed from the ELF files (sonames), plus what the scripts run.
  local req
  for p in "$agent" "$collector" "$ctl"; do
    req=$(rpm -qpR "$p")
    expect_grep "$(basename "$p") requires libc" '^libc\.so\.6\(GLIBC_2\.[0-9]+\)\(64bit\)$' "$req"
    expect_grep "$(basename "$p") requires libstdc++" '^libstdc\+\+\.so\.6\(GLIBCXX_3\.4' "$req"
  done
  expect_requires_cover "$agent" "$(deb_of vigil-agent)" /usr/bin/vigil-agent
  expect_requires_cover "$collector" "$(deb_of vigil-collector)" /usr/bin/vigil-collector
  expect_requires_cover "$ctl" "$(deb_of vigilctl)" /usr/bin/vigilctl
  req=$(rpm -qpR "$agent")
  expect_grep "vigil-agent.rpm requires useradd" '^/usr/sbin/useradd$' "$req"
  expect_no_grep "vigil-agent.rpm requires" 'sqlite' "$req"
  req=$(rpm -qpR "$collector")
  expect_grep "vigil-collector.rpm requires SQLite" '^libsqlite3\.so\.0\(\)\(64bit\)$' "$req"
  expect_no_grep "vigilctl.rpm requires useradd" 'useradd' "$(rpm -qpR "$ctl")"

  # Scripts: user before the files, enable on install, try-restart on upgrade, stop+disable on
  # erase; systemctl calls that need a running systemd are guarded.
  local scripts
  scripts=$(rpm -qp --scripts "$agent")
  expect_grep "vigil-agent.rpm %pre creates the user" \
    'useradd --system --gid vigil --home-dir /var/lib/vigil --no-create-home' "$scripts"
  expect_grep "vigil-agent.rpm %pre adds adm" 'for group in adm; do' "$scripts"
  expect_grep "vigil-agent.rpm %post enables" \
    'systemctl --no-reload enable vigil-agent.service' "$scripts"
  expect_grep "vigil-agent.rpm %preun disables" \
    'systemctl --no-reload disable vigil-agent.service' "$scripts"
  expect_grep "vigil-agent.rpm %postun restarts" \
    'systemctl try-restart vigil-agent.service' "$scripts"
  expect_grep "vigil-agent.rpm guards" '\[ -d /run/systemd/system \]' "$scripts"
  expect_no_grep "vigil-agent.rpm scripts start it" 'systemctl (start|restart) ' \
    "$(grep -v '^[[:space:]]*#' <<<"$scripts")"
  scripts=$(rpm -qp --scripts "$collector")
  expect_grep "vigil-collector.rpm %pre creates its user" \
    'useradd --system --gid vigil-collector' "$scripts"
  expect_no_grep "vigil-collector.rpm adds groups" 'for group in [a-z]' "$scripts"
  expect_eq "vigilctl.rpm scripts" "$(rpm -qp --scripts "$ctl")" ""
  # Every scriptlet is valid sh.
  local tmp
  tmp=$(mktemp -d)
  for p in "$agent" "$collector"; do
    rpm -qp --qf '%{PREIN}\n' "$p" >"$tmp/pre"
    rpm -qp --qf '%{POSTIN}\n' "$p" >"$tmp/post"
    rpm -qp --qf '%{PREUN}\n' "$p" >"$tmp/preun"
    rpm -qp --qf '%{POSTUN}\n' "$p" >"$tmp/postun"
    for s in pre post preun postun; do
      sh -n "$tmp/$s" || fail "$(basename "$p") %$s is not valid sh"
    done
  done
  rm -rf "$tmp"
  echo "rpm -qp: files, config flags, requires and scripts as expected"
}

# ---------------------------------------------------------------------------------------------
# The Debian root. Same release as this machine (the binaries link its libraries), same mirror
# as its apt (the only network this machine may reach), the packages' Depends preinstalled
# through debootstrap --include, so that `dpkg -i` in the tests needs no network. Cached by
# release, mirror and dependency list: later runs only copy it (about a second).

mirror() {
  if [ -n "${VIGIL_DEBIAN_MIRROR:-}" ]; then
    echo "$VIGIL_DEBIAN_MIRROR"
    return
  fi
  local f url
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    url=$(awk '$1 == "deb" {
      for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }' "$f")
    if [ -n "$url" ]; then echo "$url"; return; fi
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # deb822: the first URI of the first stanza of type deb that is not the security archive.
    url=$(awk '
      function pick() {
        if (!done && types ~ /(^| )deb( |$)/ && uri != "" && uri !~ /security/) {
          print uri; done = 1; exit
        }
      }
      /^[[:space:]]*$/ { pick(); types = ""; uri = ""; next }
      /^Types:/ { types = $0; sub(/^Types:[[:space:]]*/, "", types) }
      /^URIs:/ { uri = $2 }
      END { pick() }' "$f")
    if [ -n "$url" ]; then echo "$url"; return; fi
  done
  fail "no Debian mirror found in /etc/apt/sources.list*; set VIGIL_DEBIAN_MIRROR"
}

# The packages named in the .debs' Depends (the first of each alternative), ours excepted.
runtime_depends() {
  local p
  for p in "${packages[@]}"; do dpkg-deb -f "$(deb_of "$p")" Depends; done |
    tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep -v '^$' |
    grep -vxE 'vigil-agent|vigil-collector|vigilctl' | sort -u
}

root_key() {
  local suite
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  printf '%s\n' "$suite" "$(mirror)" "$(runtime_depends)" | sha256sum | cut -c1-16
}

step_root() {
  [ "$(id -u)" -eq 0 ] || skip "debootstrap and chroot need root"
  need debootstrap curl
  local suite url key base deps
  suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  url=$(mirror)
  key=$(root_key)
  base=$work/debian-root-$key
  if [ -f "$base/.vigil-root-complete" ]; then
    echo "cached Debian root: $base"
    return
  fi
  curl -fsS --max-time 20 -o /dev/null "$url/dists/$suite/Release" ||
    skip "the Debian mirror $url is unreachable, so no Debian root can be made"
  deps=$(runtime_depends | paste -sd, -)
  echo "debootstrap $suite from $url with: $deps"
  rm -rf "$work"/debian-root-* "$base.tmp"
  mkdir -p "$work/debootstrap-cache"
  if ! debootstrap --variant=minbase --include="$deps" --cache-dir="$work/debootstrap-cache" \
    "$suite" "$base.tmp" "$url" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    fail "debootstrap failed (log: $work/debootstrap.log)"
  fi
  # Keeps the copies small; the cache above keeps the downloads for the next root.
  rm -f "$base.tmp"/var/cache/apt/archives/*.deb
  touch "$base.tmp/.vigil-root-complete"
  mv "$base.tmp" "$base"
  du -sh "$base"
}

# A fresh copy of the cached root for one test, removed when the test ends.
root=""
fresh_root() {
  [ "$(id -u)" -eq 0 ] || skip "dpkg in a chroot needs root"
  unshare --mount --net true 2>/dev/null ||
    skip "cannot create mount and network namespaces here (unshare), so the binaries cannot run"
  local base
  base=$work/debian-root-$(root_key)
  [ -f "$base/.vigil-root-complete" ] ||
    fail "no Debian root: run the packages_debian_root test first"
  root=$work/root-$1
  rm -rf "$root"
  cp -a --reflink=auto "$base" "$root"
  trap 'rm -rf "$root"' EXIT
  local p
  for p in "${packages[@]}"; do cp "$(deb_of "$p")" "$root/tmp/"; done
}

in_root() {
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"
}

# as_user USER CMD...: CMD in the root as USER (its ids and groups as the root's files say), in
# a mount namespace with /proc, and a network namespace whose loopback is up. It replaces the
# calling (sub)shell, so call it as $(as_user ...) or as_user ... & ($! is then CMD's pid).
as_user() {
  local user=$1 uid gid groups
  shift
  uid=$(in_root id -u "$user")
  gid=$(in_root id -g "$user")
  groups=$(in_root id -G "$user" | tr ' ' ',')
  exec unshare --mount --net --mount-proc="$root/proc" \
    sh -c 'ip link set lo up && exec "$@"' sh \
    chroot "$root" setpriv --reuid="$uid" --regid="$gid" --groups="$groups" --reset-env "$@"
}

# "mode owner group path" of each path, with the names of the root's passwd and group files.
modes() {
  in_root stat -c '%A %U %G %n' "$@"
}

dpkg_status() {
  in_root dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$1" 2>/dev/null || true
}

# A second package made from the first with a higher version; with a FILE and TEXT, TEXT is
# appended to FILE in it (a changed conffile).
repack() {  # DEB NEW_VERSION OUT [FILE TEXT]
  local tmp
  tmp=$(mktemp -d -p "$work")
  dpkg-deb -R "$1" "$tmp/p"
  sed -i "s/^Version: .*/Version: $2/" "$tmp/p/DEBIAN/control"
  if [ $# -ge 5 ]; then printf '%s\n' "$5" >>"$tmp/p$4"; fi
  (cd "$tmp/p" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
    xargs -0 md5sum >DEBIAN/md5sums)
  dpkg-deb --root-owner-group -b "$tmp/p" "$3" >/dev/null
  rm -rf "$tmp"
}

# The systemd commands the maintainer scripts ran: a stand-in systemctl records them. With
# `running`, /run/systemd/system exists as when systemd is PID 1.
fake_systemd() {  # running|absent
  mkdir -p "$root/usr/local/sbin"
  cat >"$root/usr/local/sbin/systemctl" <<'EOF'
#!/bin/sh
echo "$*" >>/tmp/systemctl.log
EOF
  chmod 0755 "$root/usr/local/sbin/systemctl"
  : >"$root/tmp/systemctl.log"
  if [ "$1" = running ]; then
    mkdir -p "$root/run/systemd/system"
  else
    rm -rf "$root/run/systemd"
  fi
}
systemctl_log() {
  cat "$root/tmp/systemctl.log"
  : >"$root/tmp/systemctl.log"
}

# systemd-analyze verify against the root's files (ExecStart binaries included). The root has
# no systemd, so the host's targets stand in while it runs. Prints the exposure level of
# `systemd-analyze security`, which must stay OK or better.
unit_verify() {  # UNIT
  local added=() t outp rc=0
  for t in /usr/lib/systemd/system/*.target; do
    if [ ! -e "$root$t" ]; then
      cp "$t" "$root$t"
      added+=("$root$t")
    fi
  done
  outp=$(systemd-analyze verify --man=no --root="$root" "$1" 2>&1) || rc=$?
  local exposure
  exposure=$(systemd-analyze security --offline=true --root="$root" "$1" 2>/dev/null | tail -n 1)
  rm -f "${added[@]}"
  if [ $rc -ne 0 ] || [ -n "$outp" ]; then fail "systemd-analyze verify $1: $outp"; fi
  expect_grep "exposure of $1" 'Overall exposure level for .*: [0-9.]+ (OK|SAFE)' "$exposure"
  echo "$exposure"
}

expect_user() {  # USER HOME GROUPS
  local entry uid home shell
  entry=$(in_root getent passwd "$1") || fail "no user $1"
  IFS=: read -r _ _ uid _ _ home shell <<<"$entry"
  [ "$uid" -lt 1000 ] || fail "$1 is not a system user (uid $uid)"
  expect_eq "$1's home" "$home" "$2"
  expect_eq "$1's shell" "$shell" "/usr/sbin/nologin"
  expect_eq "$1's groups" "$(in_root id -nG "$1")" "$3"
  in_root passwd -S "$1" | grep -qE "^$1 L " || fail "$1's password is not locked"
}

# ---------------------------------------------------------------------------------------------
step_agent() {
  need systemd-analyze unshare setpriv ip objdump
  fresh_root agent
  local deb
  deb=/tmp/$(basename "$(deb_of vigil-agent)")

  # Depends: computed by dpkg-shlibdeps, plus passwd for the scripts.
  local depends
  depends=$(dpkg-deb -f "$(deb_of vigil-agent)" Depends)
  echo "Depends: $depends"
  expect_grep "Depends" '(^|, )libc6 \(>= 2\.[0-9]+\)' "$depends"
  expect_grep "Depends" '(^|, )passwd($|, )' "$depends"
  expect_no_grep "Depends" '-dev\b|libsqlite3|libgtest' "$depends"
  expect_depends_cover "$(deb_of vigil-agent)" /usr/bin/vigil-agent

  # --- Install where systemd does not run (a chroot, a container, an image build).
  fake_systemd absent
  in_root dpkg -i "$deb" || fail "dpkg -i vigil-agent failed"
  expect_eq "status after install" "$(dpkg_status vigil-agent)" "ii $version"
  expect_eq "systemctl calls without systemd" "$(systemctl_log)" ""

  expect_lines "dpkg -L vigil-agent" "$(in_root dpkg -L vigil-agent | sort)" \
"/etc
/etc/vigil
/etc/vigil/agent.yaml
/etc/vigil/conf.d
/usr
/usr/bin
/usr/bin/vigil-agent
/usr/lib
/usr/lib/systemd
/usr/lib/systemd/system
/usr/lib/systemd/system/vigil-agent.service
/usr/share
/usr/share/doc
/usr/share/doc/vigil-agent
/usr/share/doc/vigil-agent/changelog.gz
/usr/share/doc/vigil-agent/copyright
/usr/share/doc/vigil-agent/examples
/usr/share/doc/vigil-agent/examples/agent.example.yaml
/usr/share/lintian
/usr/share/lintian/overrides
/usr/share/lintian/overrides/vigil-agent
/usr/share/man
/usr/share/man/man1
/usr/share/man/man1/vigil-agent.1.gz"
  expect_lines "modes" "$(modes /usr/bin/vigil-agent /etc/vigil /etc/vigil/agent.yaml \
    /etc/vigil/conf.d /usr/lib/systemd/system/vigil-agent.service /var/lib/vigil)" \
"-rwxr-xr-x root root /usr/bin/vigil-agent
drwxr-xr-x root root /etc/vigil
-rw-r--r-- root root /etc/vigil/agent.yaml
drwxr-xr-x root root /etc/vigil/conf.d
-rw-r--r-- root root /usr/lib/systemd/system/vigil-agent.service
drwxr-x--- vigil vigil /var/lib/vigil"
  expect_grep "conffiles" '^ /etc/vigil/agent.yaml [0-9a-f]{32}$' \
    "$(in_root dpkg-query -W -f='${Conffiles}\n' vigil-agent)"
  cmp -s "$root/etc/vigil/agent.yaml" "$src/deploy/packages/agent.yaml" ||
    fail "/etc/vigil/agent.yaml is not deploy/packages/agent.yaml"
  file "$root/usr/bin/vigil-agent" | grep -q ', stripped' || fail "vigil-agent is not stripped"

  expect_user vigil /var/lib/vigil "vigil adm"
  # Enabled (deb-systemd-helper makes the link without systemd), not started.
  # (/lib is /usr/lib in a merged-/usr root; deb-systemd-helper names the former.)
  expect_grep "enabled" '^(/usr)?/lib/systemd/system/vigil-agent.service$' \
    "$(readlink "$root/etc/systemd/system/multi-user.target.wants/vigil-agent.service")"
  echo "unit: $(unit_verify vigil-agent.service)"

  # --- The binary, as the vigil user.
  expect_eq "--version" "$(in_root vigil-agent --version)" "vigil-agent $version"
  expect_eq "--check-config" "$(as_user vigil /usr/bin/vigil-agent --check-config 2>&1)" \
    "/etc/vigil/agent.yaml: OK (1 checks)"
  # Per-check files in /etc/vigil/conf.d, read by default.
  printf 'checks:\n  - {type: tcp, name: ssh, address: 127.0.0.1, port: 22}\n' \
    >"$root/etc/vigil/conf.d/ssh.yaml"
  expect_eq "--check-config with conf.d" \
    "$(as_user vigil /usr/bin/vigil-agent --check-config 2>&1)" \
    "/etc/vigil/agent.yaml: OK (2 checks)"
  printf 'checks:\n  - {type: tcp, name: ssh2, address: 127.0.0.1, port: 22, prot: 23}\n' \
    >"$root/etc/vigil/conf.d/zz-bad.yaml"
  local rc=0 msg
  msg=$(as_user vigil /usr/bin/vigil-agent --check-config 2>&1) || rc=$?
  expect_eq "--check-config exit status with a bad conf.d file" "$rc" 2
  expect_eq "--check-config message" "$msg" "/etc/vigil/conf.d/zz-bad.yaml:2:59: unknown key 'prot'"
  rm "$root/etc/vigil/conf.d/zz-bad.yaml"

  # --- The service user runs the agent: its spool goes to /var/lib/vigil, and SIGTERM seals
  # what the checks produced into it (no collector answers here). Checks run on interval
  # boundaries, so a 1 s interval for this run.
  head -c 32 /dev/urandom | base64 >"$root/etc/vigil/agent.token"
  in_root chown root:vigil /etc/vigil/agent.token
  chmod 0640 "$root/etc/vigil/agent.token"
  cp -p "$root/etc/vigil/agent.yaml" "$work/agent.yaml.packaged"
  echo 'interval: 1s' >>"$root/etc/vigil/agent.yaml"
  as_user vigil /usr/bin/vigil-agent --config /etc/vigil/agent.yaml >"$work/agent.log" 2>&1 &
  local pid=$!
  local deadline=$((SECONDS + 20))
  until grep -q 'started as' "$work/agent.log"; do
    kill -0 "$pid" 2>/dev/null || fail "vigil-agent exited: $(cat "$work/agent.log")"
    [ $SECONDS -lt $deadline ] || fail "vigil-agent did not start: $(cat "$work/agent.log")"
    sleep 0.2
  done
  sleep 2.5  # two collections
  kill -TERM "$pid"
  local stop_started=$SECONDS
  rc=0
  wait "$pid" || rc=$?
  local stop_took=$((SECONDS - stop_started))
  cp -p "$work/agent.yaml.packaged" "$root/etc/vigil/agent.yaml"
  expect_eq "vigil-agent exit status after SIGTERM" "$rc" 0
  expect_grep "vigil-agent stop" 'stopped; [1-9][0-9]* batches remain in the spool' \
    "$(cat "$work/agent.log")"
  # The unit's TimeoutStopSec=30s must cover the stop (it waits for a connection attempt to
  # the collector to time out: collector.connect_timeout, 10 s).
  [ $stop_took -lt 30 ] || fail "vigil-agent took ${stop_took}s to stop after SIGTERM"
  echo "vigil-agent stopped ${stop_took}s after SIGTERM: $(grep -o 'stopped; .*' "$work/agent.log")"
  local spool
  spool=$(modes /var/lib/vigil/spool)
  expect_eq "spool directory" "$spool" "drwx------ vigil vigil /var/lib/vigil/spool"
  [ -n "$(find "$root/var/lib/vigil/spool" -type f -user "$(in_root id -u vigil)" -size +0)" ] ||
    fail "no spool file of the vigil user"

  # --- Upgrade over a changed config (the new package changes it too): the administrator's
  # version stays, the package's lands beside it as .dpkg-dist.
  echo 'interval: 15s' >>"$root/etc/vigil/agent.yaml"
  local uid_before
  uid_before=$(in_root id -u vigil)
  repack "$(deb_of vigil-agent)" "$version+1" "$root/tmp/upgrade.deb" /etc/vigil/agent.yaml \
    "# changed upstream"
  fake_systemd running
  in_root dpkg -i --force-confdef --force-confold /tmp/upgrade.deb || fail "upgrade failed"
  expect_eq "status after upgrade" "$(dpkg_status vigil-agent)" "ii $version+1"
  grep -q '^interval: 15s$' "$root/etc/vigil/agent.yaml" ||
    fail "upgrade replaced the changed agent.yaml"
  tail -n 1 "$root/etc/vigil/agent.yaml.dpkg-dist" | grep -q '^# changed upstream$' ||
    fail "no agent.yaml.dpkg-dist with the package's new version"
  expect_eq "vigil's uid after upgrade" "$(in_root id -u vigil)" "$uid_before"
  expect_eq "modes after upgrade" "$(modes /var/lib/vigil)" "drwxr-x--- vigil vigil /var/lib/vigil"
  [ -f "$root/etc/vigil/conf.d/ssh.yaml" ] || fail "upgrade removed conf.d/ssh.yaml"
  # With systemd running: reload, then restart only if it runs (try-restart), never a start.
  local calls
  calls=$(systemctl_log)
  expect_grep "systemctl calls on upgrade" '^--system daemon-reload$' "$calls"
  expect_grep "systemctl calls on upgrade" '^try-restart vigil-agent.service$' "$calls"
  expect_no_grep "systemctl calls on upgrade" '(^| )(start|restart|stop) ' "$calls"

  # --- Remove: stopped and masked; configuration, conf.d, token, spool and user stay.
  in_root dpkg -r vigil-agent || fail "dpkg -r failed"
  expect_eq "status after remove" "$(dpkg_status vigil-agent)" "rc $version+1"
  calls=$(systemctl_log)
  expect_grep "systemctl calls on remove" '^stop vigil-agent.service$' "$calls"
  expect_grep "systemctl calls on remove" 'daemon-reload$' "$calls"
  [ ! -e "$root/usr/bin/vigil-agent" ] || fail "remove left /usr/bin/vigil-agent"
  expect_eq "masked" "$(readlink "$root/etc/systemd/system/vigil-agent.service")" /dev/null
  local kept
  for kept in /etc/vigil/agent.yaml /etc/vigil/conf.d/ssh.yaml /etc/vigil/agent.token; do
    [ -f "$root$kept" ] || fail "remove deleted $kept"
  done
  [ -n "$(find "$root/var/lib/vigil/spool" -type f -size +0)" ] || fail "remove deleted the spool"
  in_root getent passwd vigil >/dev/null || fail "remove deleted the vigil user"

  # --- Reinstall of the same version: enabled again (it was before the removal), config kept
  # without a question.
  fake_systemd absent
  in_root dpkg -i /tmp/upgrade.deb </dev/null || fail "reinstall failed"
  [ ! -e "$root/etc/systemd/system/vigil-agent.service" ] || fail "still masked after reinstall"
  [ -L "$root/etc/systemd/system/multi-user.target.wants/vigil-agent.service" ] ||
    fail "not enabled after reinstall"
  grep -q '^interval: 15s$' "$root/etc/vigil/agent.yaml" || fail "reinstall replaced agent.yaml"

  # --- Purge: configuration, conf.d, token, spool and the unit's links go; the user stays.
  in_root dpkg -P vigil-agent || fail "dpkg -P failed"
  expect_eq "status after purge" "$(dpkg_status vigil-agent)" ""
  expect_eq "systemctl calls on purge without systemd" "$(systemctl_log)" ""
  for kept in /etc/vigil /var/lib/vigil /etc/systemd/system/vigil-agent.service \
    /etc/systemd/system/multi-user.target.wants/vigil-agent.service; do
    if [ -e "$root$kept" ] || [ -L "$root$kept" ]; then fail "purge left $kept"; fi
  done
  [ -z "$(find "$root/var/lib/systemd" -name '*vigil*' 2>/dev/null)" ] ||
    fail "purge left deb-systemd-helper state: $(find "$root/var/lib/systemd" -name '*vigil*')"
  in_root getent passwd vigil >/dev/null || fail "the vigil user should stay after purge"

  # --- A first install where systemd runs: reload and enable, but no start (no token yet).
  in_root userdel vigil
  in_root groupdel vigil 2>/dev/null || true
  fake_systemd running
  in_root dpkg -i "$deb" 2>"$work/install.err" || fail "install with systemd failed"
  calls=$(systemctl_log)
  expect_grep "systemctl calls on a first install" '^--system daemon-reload$' "$calls"
  expect_no_grep "systemctl calls on a first install" '(start|restart) ' "$calls"
  expect_grep "hint" 'vigil-agent.service is enabled, not started' "$(cat "$work/install.err")"
  in_root dpkg -P vigil-agent >/dev/null || fail "dpkg -P failed"
  echo "vigil-agent: install, run, upgrade, remove, reinstall and purge as expected"
}

step_collector() {
  need systemd-analyze unshare setpriv ip curl objdump
  fresh_root collector
  local ctl coll
  ctl=/tmp/$(basename "$(deb_of vigilctl)")
  coll=/tmp/$(basename "$(deb_of vigil-collector)")
  local depends
  depends=$(dpkg-deb -f "$(deb_of vigil-collector)" Depends)
  echo "Depends: $depends"
  expect_grep "Depends" '(^|, )libsqlite3-0 \(>= 3' "$depends"
  expect_grep "Depends" '(^|, )passwd, procps($|, )' "$depends"
  expect_depends_cover "$(deb_of vigil-collector)" /usr/bin/vigil-collector
  expect_depends_cover "$(deb_of vigilctl)" /usr/bin/vigilctl
  expect_eq "Recommends" "$(dpkg-deb -f "$(deb_of vigil-collector)" Recommends)" "vigilctl"

  fake_systemd absent
  in_root dpkg -i "$ctl" "$coll" || fail "dpkg -i vigilctl vigil-collector failed"
  expect_eq "status" "$(dpkg_status vigil-collector) $(dpkg_status vigilctl)" \
    "ii $version ii $version"
  expect_eq "systemctl calls without systemd" "$(systemctl_log)" ""
  expect_lines "dpkg -L vigilctl" \
    "$(in_root dpkg -L vigilctl | grep -v '^/usr/share/doc/vigilctl$' | grep vigilctl | sort)" \
"/usr/bin/vigilctl
/usr/share/doc/vigilctl/changelog.gz
/usr/share/doc/vigilctl/copyright
/usr/share/man/man1/vigilctl.1.gz"
  local files
  files=$(in_root dpkg -L vigil-collector | sort)
  local f
  for f in /etc/vigil/collector.yaml /etc/vigil/rules/agent.yaml /usr/bin/vigil-collector \
    /usr/lib/systemd/system/vigil-collector.service /usr/share/man/man1/vigil-collector.1.gz \
    /usr/share/doc/vigil-collector/copyright /usr/share/doc/vigil-collector/changelog.gz \
    /usr/share/doc/vigil-collector/examples/collector.example.yaml \
    /usr/share/doc/vigil-collector/examples/alerting.example.yaml; do
    grep -qx "$f" <<<"$files" || fail "vigil-collector does not install $f"
  done
  for f in "$src"/rules/*.yaml; do
    grep -qx "/usr/share/doc/vigil-collector/examples/rules/$(basename "$f")" <<<"$files" ||
      fail "vigil-collector does not ship rules/$(basename "$f")"
  done
  expect_lines "modes" "$(modes /usr/bin/vigil-collector /usr/bin/vigilctl \
    /etc/vigil/collector.yaml /etc/vigil/rules /var/lib/vigil-collector)" \
"-rwxr-xr-x root root /usr/bin/vigil-collector
-rwxr-xr-x root root /usr/bin/vigilctl
-rw-r--r-- root root /etc/vigil/collector.yaml
drwxr-xr-x root root /etc/vigil/rules
drwxr-x--- vigil-collector vigil-collector /var/lib/vigil-collector"
  local conffiles
  conffiles=$(in_root dpkg-query -W -f='${Conffiles}\n' vigil-collector)
  expect_grep "conffiles" '^ /etc/vigil/collector.yaml [0-9a-f]{32}$' "$conffiles"
  expect_grep "conffiles" '^ /etc/vigil/rules/agent.yaml [0-9a-f]{32}$' "$conffiles"
  cmp -s "$root/etc/vigil/rules/agent.yaml" "$src/rules/agent.yaml" ||
    fail "/etc/vigil/rules/agent.yaml is not rules/agent.yaml"
  expect_user vigil-collector /var/lib/vigil-collector "vigil-collector"
  [ -L "$root/etc/systemd/system/multi-user.target.wants/vigil-collector.service" ] ||
    fail "vigil-collector.service is not enabled"
  echo "unit: $(unit_verify vigil-collector.service)"

  expect_eq "--version" "$(in_root vigil-collector --version)" "vigil-collector $version"
  expect_eq "--check-config" "$(as_user vigil-collector /usr/bin/vigil-collector \
    --check-config --config /etc/vigil/collector.yaml 2>&1)" \
    "/etc/vigil/collector.yaml: OK"
  expect_grep "vigilctl token generate" '[0-9a-f]{64}' "$(in_root vigilctl token generate)"
  expect_grep "vigilctl rules check of the shipped rules" 'rule' \
    "$(in_root vigilctl rules check /usr/share/doc/vigil-collector/examples/rules)"

  # The packaged configuration runs as the service user: ready, its rule loaded, state written
  # to /var/lib/vigil-collector.
  local probe
  probe=$(unshare --mount --net --mount-proc="$root/proc" sh -c '
    ip link set lo up
    chroot "$3" setpriv --reuid="$1" --regid="$2" --init-groups --reset-env \
      /usr/bin/vigil-collector --config /etc/vigil/collector.yaml >"$4" 2>&1 &
    pid=$!
    i=0
    until curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1; do
      i=$((i + 1)); [ $i -lt 100 ] || { echo "not ready"; kill $pid; exit 1; }
      sleep 0.2
    done
    echo ready
    curl -fsS http://127.0.0.1:8080/metrics | grep "^vigil_rules_last_reload_success"
    kill -TERM $pid
    wait $pid
    echo "exit=$?"' sh "$(in_root id -u vigil-collector)" "$(in_root id -g vigil-collector)" \
    "$root" "$work/collector.log") ||
    fail "collector did not run: $probe $(cat "$work/collector.log")"
  expect_lines "collector run" "$probe" "ready
vigil_rules_last_reload_success 1
exit=0"
  [ -n "$(in_root find /var/lib/vigil-collector -user vigil-collector -type f)" ] ||
    fail "the collector wrote nothing in /var/lib/vigil-collector"

  # Upgrade (unchanged conffile) keeps the administrator's collector.yaml without asking.
  sed -i 's/^retention: 6h$/retention: 12h/' "$root/etc/vigil/collector.yaml"
  repack "$(deb_of vigil-collector)" "$version+1" "$root/tmp/upgrade.deb"
  in_root dpkg -i /tmp/upgrade.deb </dev/null || fail "upgrade failed"
  grep -q '^retention: 12h$' "$root/etc/vigil/collector.yaml" ||
    fail "upgrade replaced collector.yaml"
  expect_eq "systemctl calls on upgrade without systemd" "$(systemctl_log)" ""

  # Remove keeps config and state; purge deletes them (vigilctl stays, and so does /etc/vigil
  # only if something else is in it).
  in_root dpkg -r vigil-collector || fail "dpkg -r failed"
  [ -f "$root/etc/vigil/collector.yaml" ] || fail "remove deleted collector.yaml"
  [ -d "$root/var/lib/vigil-collector" ] || fail "remove deleted /var/lib/vigil-collector"
  in_root dpkg -P vigil-collector || fail "dpkg -P failed"
  for f in /etc/vigil /var/lib/vigil-collector /etc/systemd/system/vigil-collector.service \
    /etc/systemd/system/multi-user.target.wants/vigil-collector.service; do
    if [ -e "$root$f" ] || [ -L "$root$f" ]; then fail "purge left $f"; fi
  done
  [ -x "$root/usr/bin/vigilctl" ] || fail "purging the collector removed vigilctl"
  echo "vigil-collector and vigilctl: install, run, upgrade, remove and purge as expected"
}

case "$step" in
  build) step_build ;;
  lintian) step_lintian ;;
  rpmlint) step_rpmlint ;;
  rpm-query) step_rpm_query ;;
  root) step_root ;;
  agent) step_agent ;;
  collector) step_collector ;;
  *) fail "unknown step '$step'" ;;
esac
