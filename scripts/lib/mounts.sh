# Finding and removing the mounts under a chroot, for the scripts that make
# one (sid-chroot.sh, test-bundle.sh). The caller sets root (the chroot's
# directory) and defines say.

# mounts_under DIR: mount points at or below DIR in this mount namespace,
# deepest first.
mounts_under() {
  awk -v d="$1" '{ m=$5; gsub(/\\040/, " ", m); if (m == d || index(m, d "/") == 1) print m }' /proc/self/mountinfo \
    | awk '{ print length($0) "\t" $0 }' | sort -rn | cut -f2-
}

# unmount_all unmounts everything under $root, deepest first (lazily where
# something still holds a mount busy).
unmount_all() {
  local m
  while IFS= read -r m; do
    [ -n "$m" ] || continue
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "cannot unmount $m"
  done < <(mounts_under "$root")
  return 0
}
