# Shared by scripts/demo and scripts/test. Source it; do not run it.
set -euo pipefail
KMRA_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export KMRA_ROOT

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs every package of scripts/packages.txt that is missing; runs apt-get update first only then.
kmra_install_packages() {
  local -a wanted=() missing=()
  local p
  mapfile -t wanted < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$KMRA_ROOT/scripts/packages.txt")
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all ${#wanted[@]} Debian packages present"
    return 0
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Configures and builds one CMake preset with ccache kept inside the build tree's parent.
kmra_build() {
  local preset=$1; shift
  export CCACHE_DIR=${CCACHE_DIR:-$KMRA_ROOT/build/.ccache}
  mkdir -p "$CCACHE_DIR"
  cmake --preset "$preset" -S "$KMRA_ROOT" >/dev/null
  cmake --build --preset "$preset" -j "${KMRA_JOBS:-$(nproc)}" "$@"
}
