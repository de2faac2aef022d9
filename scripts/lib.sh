# Sourced by the set-up scripts: messages, root, apt and tool checks.
# shellcheck shell=bash
say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# apt_install PKG...: installs the named Debian packages (none: nothing to do).
apt_install() {
  [ $# -gt 0 ] || return 0
  say "installing Debian packages: $*"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt run (unattended upgrades) may hold the lock for a while; wait for it.
  local ok=0
  for _ in $(seq 60); do as_root apt-get update -qq && { ok=1; break; }; sleep 5; done
  [ $ok = 1 ] || { echo "setup: apt-get update kept failing" >&2; return 1; }
  for _ in $(seq 60); do as_root apt-get install -y -qq --no-install-recommends "$@" && return 0; sleep 5; done
  echo "setup: could not install $*" >&2
  return 1
}

# require_tools TOOL...: fails, naming them, when any is still missing after set-up.
require_tools() {
  local missing=()
  for tool in "$@"; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} = 0 ] || { echo "setup: still missing: ${missing[*]}" >&2; return 1; }
}
