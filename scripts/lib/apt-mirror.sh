# Sourced by scripts/python.sh and scripts/sid-chroot.sh.
#
# mirror_uri prints the Debian archive URI of this machine's own apt
# configuration: the first Debian entry that is not the security archive,
# from one-line (.list) or deb822 (.sources) files. Scripts derive every
# download from it, so no mirror host is ever written into the project.
mirror_uri() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk '$1=="deb" { i=2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                      if ($(i+1) !~ /security/ && $i ~ /debian\/?$/) { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'BEGIN{RS=""; FS="\n"}
         { uri=""; suites=""; types="";
           for (j=1;j<=NF;j++) { if ($j ~ /^URIs:/) uri=$j; if ($j ~ /^Suites:/) suites=$j; if ($j ~ /^Types:/) types=$j }
           sub(/^URIs:[ \t]*/,"",uri); split(uri,u,/[ \t]+/)
           if (types ~ /deb/ && suites !~ /security/ && u[1] ~ /debian\/?$/) { print u[1]; exit } }' "$f"
  done
}
