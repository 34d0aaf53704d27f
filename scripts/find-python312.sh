#!/usr/bin/env bash
# Print the prefix of an installed CPython 3.12 with a shared libpython, or
# nothing. SUBINTERP_PY312_PREFIX wins; then pyenv installs, /usr/local, /opt.
set -u
check() {
  local p=$1
  [ -f "$p/lib/pkgconfig/python3-embed.pc" ] || return 1
  ls "$p"/lib/libpython3.12.so* >/dev/null 2>&1 || return 1
  echo "$p"
}
if [ -n "${SUBINTERP_PY312_PREFIX:-}" ]; then check "$SUBINTERP_PY312_PREFIX" && exit 0; exit 0; fi
for p in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12* /usr/local /opt/python3.12* /opt/python/3.12* 2>/dev/null | sort -V -r); do
  check "$p" && exit 0
done
exit 0
