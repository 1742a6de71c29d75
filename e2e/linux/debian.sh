# Shared by e2e/linux/build.sh and e2e/nested/build.sh (sourced, not run): resolving Debian
# packages, downloading them into a cache, and a busybox tree with its applet links. The caller
# defines die() and note(), and sets $out and $work (a temp dir); .debs are cached in $debs
# ($WORKERVISOR_DEB_CACHE, default $out/debs).
debs="${WORKERVISOR_DEB_CACHE:-$out/debs}"

# Checks the tools every step below needs.
require_debian_tools() {
  local tool
  for tool in apt-get apt-cache dpkg-deb python3; do
    command -v "$tool" >/dev/null || die "'$tool' not found; this script needs a Debian/Ubuntu host with python3"
  done
}

# The versioned image a kernel metapackage depends on (e.g. linux-image-6.1.0-50-cloud-amd64).
resolve_kernel_pkg() {
  local meta="$1" pkg
  pkg="$(apt-cache depends "$meta" 2>/dev/null \
    | sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n1)" || true
  [[ -n "$pkg" ]] || die "cannot resolve $meta to a versioned kernel package; is an amd64 Debian repo in apt's sources (try: apt-get update)?"
  echo "$pkg"
}

# apt's candidate version of a package.
candidate_version() {
  local ver
  ver="$(apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: //p')"
  [[ -n "$ver" && "$ver" != "(none)" ]] || die "no installable version of $1 (try: apt-get update)"
  echo "$ver"
}

# The packages named and every package they depend on (Pre-Depends and Depends, not
# Recommends), one per line, sorted; virtual packages are left out (apt-cache lists a real
# package providing them too). Package-management machinery (dpkg, debconf, perl-base,
# init-system-helpers) is left out as well: maintainer scripts never run in an image.
package_closure() {
  local name closure
  for name in "$@"; do
    [[ "$name" =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "'$name' is not a Debian package name"
    candidate_version "$name" >/dev/null
  done
  closure="$(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" 2>/dev/null)" || die "apt-cache depends $* failed (try: apt-get update)"
  grep -v -e '^ ' -e '^<' <<< "$closure" | grep -vxE 'dpkg|debconf|perl-base|init-system-helpers' | sort -u
}

# Downloads pkg=ver into $debs unless it is there; prints the .deb's path.
# apt-get download names files pkg_version_arch.deb with ':' escaped as %3a.
fetch_deb() {
  local pkg="$1" ver="$2" file
  file="$debs/${pkg}_${ver//:/%3a}_amd64.deb"
  if [[ ! -s "$file" ]]; then
    note "downloading $pkg=$ver"
    mkdir -p "$work/dl" "$debs"
    local sandbox=()
    # apt drops to user _apt for downloads and warns if it cannot write the directory.
    [[ $EUID == 0 ]] && sandbox=(-o APT::Sandbox::User=root)
    (cd "$work/dl" && apt-get download -q "${sandbox[@]}" "$pkg=$ver" >&2) \
      || die "apt-get download $pkg=$ver failed (network, or stale lists: apt-get update)"
    mv "$work/dl/"*.deb "$file" 2>/dev/null || die "apt-get download $pkg produced no .deb"
  fi
  echo "$file"
}

# Installs the busybox binary of an unpacked busybox-static package ($1) into root $2 with one
# symlink per applet, at the path busybox itself reports (bin/sh, sbin/insmod, ...).
install_busybox() {
  local unpacked="$1" root="$2" applets applet
  install -m 0755 "$unpacked/bin/busybox" "$root/bin/busybox"
  applets="$("$root/bin/busybox" --list-full)" || die "cannot run the busybox binary on this host (needs x86_64)"
  while read -r applet; do
    [[ -n "$applet" && "$applet" != bin/busybox && ! -e "$root/$applet" ]] || continue
    mkdir -p "$(dirname "$root/$applet")"
    ln -s /bin/busybox "$root/$applet"
  done <<< "$applets"
}
