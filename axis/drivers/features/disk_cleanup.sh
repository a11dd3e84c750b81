#!/bin/sh
# managed by axis: diskCleanup (retention @DAYS@ days, deep tier at @DEEP@% of / used)
# Written by `axis apply`; edits are overwritten. `axis clean HOST` runs this same text as
# root over ssh: sh -s -- [--deep] [--dry-run]. Run as /etc/cron.daily/axis-disk-cleanup, it
# appends its report to @LOG@ (created with a managed mark, removed with the feature).
#
# Safe tier, always: journal vacuum, apt-get autoremove --purge and clean, disabled snap
# revisions, files older than @DAYS@ days (mtime) below /var/crash, /tmp, /var/tmp and each
# home's ~/.cache/{@SAFE_CACHES@}, and below /var/log only rotated or
# compressed logs (@ROTATED@) that old.
# Deep tier, with --deep or when / is still at least @DEEP@% full after the safe tier: files
# older than @DAYS@ days below ~/.cache/{@DEEP_CACHES@} and
# docker system prune -af --filter until=72h.
# Never removed: a tier's root directory, a current log, anything reached through a symlink or
# on another filesystem (find -xdev, -type f, no -L). --dry-run deletes nothing and lists what
# each step would remove (files and bytes per directory; commands as would-run).
#
# AXIS_CLEAN_ROOT and AXIS_CLEAN_USED_PERCENT are for axis's own tests only: a directory that
# stands in for / (commands that change the system then only run from its bin/), and a fake
# percentage for the root disk.
# `set -- $(...)` below splits numbers on purpose:
# shellcheck disable=SC2046
RETENTION_DAYS=@DAYS@
DEEP_AT_PERCENT=@DEEP@

set -u
umask 022
export LC_ALL=C
R=${AXIS_CLEAN_ROOT:-}
case $R in ''|/*) ;; *) echo "axis-disk-cleanup: AXIS_CLEAN_ROOT must be an absolute path" >&2; exit 2 ;; esac
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/snap/bin
[ -z "$R" ] || PATH=$R/bin:$PATH
export PATH
LOG=$R@LOG@
MINUTES=$((RETENTION_DAYS * 1440))
P=@@axis
ERRORS=0
ESTIMATE=0
RACE=
find "${R:-/}" -maxdepth 0 -ignore_readdir_race >/dev/null 2>&1 && RACE=-ignore_readdir_race

# A command that changes the system: on the real root any absolute path; under a test root only
# the stand-ins in its bin/.
have() {
  _have=$(command -v "$1" 2>/dev/null) || return 1
  case $_have in "$R"/*) return 0 ;; esac
  return 1
}

# TIER RESULT FILES BYTES DIRS NAME: one report line (paths as seen from /, also under a test root).
step() {
  printf '%s:step tier=%s result=%s files=%s bytes=%s dirs=%s name=%s\n' "$P" "$1" "$2" "$3" "$4" "$5" "${6#"$R"}"
  case $2 in removed|would-remove|ran|would-run|partial)
    case $4 in ''|*[!0-9]*) ;; *) ESTIMATE=$((ESTIMATE + $4)) ;; esac ;;
  esac
}

fail() {
  ERRORS=$((ERRORS + 1))
  printf '%s:error %s\n' "$P" "$*"
}

# "used-KiB used-percent" of the root filesystem (df -kP /).
disk() {
  df -kP "${R:-/}" 2>/dev/null | awk -v fake="${R:+${AXIS_CLEAN_USED_PERCENT:-}}" \
    'NR == 2 { sub(/%/, "", $5); print $3, (fake != "" ? fake : $5) }'
}

# "count bytes" of the files a selector prints.
sizes() {
  "$@" -exec stat -c %s {} + 2>/dev/null | awk '{ n++; b += $1 } END { printf "%d %.0f\n", n, b }'
}

# Selectors: DIR ACTION... Files old enough below DIR (never DIR itself), on DIR's filesystem,
# without following symlinks; sockets and the X/systemd private directories are left alone.
old_files() {
  _sel=$1; shift
  find "$_sel" -xdev -mindepth 1 $RACE -type f -mmin "+$MINUTES" ! -name '.X*-lock' \
    ! -path '*/.X11-unix/*' ! -path '*/.ICE-unix/*' ! -path '*/.XIM-unix/*' ! -path '*/.font-unix/*' \
    ! -path '*/systemd-private-*' ! -path '*/snap-private-tmp/*' "$@"
}
rotated_logs() {
  _sel=$1; shift
  find "$_sel" -xdev -mindepth 1 $RACE -type f -mmin "+$MINUTES" \
    \( @ROTATED_FIND@ \) "$@"
}
empty_dirs() {
  _sel=$1; shift
  find "$_sel" -xdev -mindepth 1 $RACE -type d -empty -mmin "+$MINUTES" ! -name '.*-unix' \
    ! -path '*/systemd-private-*' ! -path '*/snap-private-tmp*' "$@"
}

# TIER KIND DIR: KIND "files" (old files, then old empty directories below DIR) or "logs"
# (old rotated/compressed logs only; directories under /var/log belong to services).
clean_dir() {
  _t=$1 _k=$2 _d=$3
  if [ -L "$_d" ] || [ -L "${_d%/*}" ]; then
    step "$_t" skipped-symlink - - - "$_d"
    return 0
  fi
  [ -d "$_d" ] || return 0
  if [ "$_k" = logs ]; then _s=rotated_logs; else _s=old_files; fi
  set -- $(sizes "$_s" "$_d")
  _n=${1:-0} _b=${2:-0} _e=0
  [ "$_k" = logs ] || _e=$(empty_dirs "$_d" -print 2>/dev/null | awk 'END { print NR }')
  if [ "$DRY" = yes ]; then
    step "$_t" would-remove "$_n" "$_b" "$_e" "$_d"
    return 0
  fi
  _rc=0
  if [ "$_n" -gt 0 ]; then
    _err=$("$_s" "$_d" -delete 2>&1 >/dev/null) || _rc=$?
  fi
  [ "$_k" = logs ] || empty_dirs "$_d" -delete >/dev/null 2>&1
  if [ "$_rc" -eq 0 ]; then
    step "$_t" removed "$_n" "$_b" "$_e" "$_d"
  else
    step "$_t" partial "$_n" "$_b" "$_e" "$_d"
    fail "$_d: find -delete exited $_rc: $(printf '%s\n' "$_err" | tail -n 1)"
  fi
}

# TIER FILES BYTES NAME COMMAND...: run a command, its output indented below the report line.
tool() {
  _t=$1 _n=$2 _b=$3 _nm=$4
  shift 4
  _out=$("$@" 2>&1) && _rc=0 || _rc=$?
  [ -z "$_out" ] || printf '%s\n' "$_out" | sed 's/^/    /'
  if [ "$_rc" -eq 0 ]; then
    step "$_t" ran "$_n" "$_b" - "$_nm"
  else
    step "$_t" failed "$_n" "$_b" - "$_nm"
    fail "$_nm exited $_rc: $(printf '%s\n' "$_out" | tail -n 1)"
  fi
}

journal() {
  have journalctl || return 0
  _cmd="journalctl --vacuum-size=2G --vacuum-time=${RETENTION_DAYS}d"
  if [ "$DRY" = yes ]; then
    _use=$(journalctl --disk-usage 2>/dev/null | sed -n 's/.* take up \([^ ]*\) .*/\1/p')
    step safe would-run - - - "$_cmd (journals take ${_use:-?} now)"
  else
    tool safe - - "$_cmd" journalctl --vacuum-size=2G --vacuum-time="${RETENTION_DAYS}d"
  fi
}

apt() {
  have apt-get || return 0
  _n=$(apt-get -s autoremove --purge 2>/dev/null | grep -c '^Purg ')
  if [ "$DRY" = yes ]; then
    step safe would-run "$_n" - - "apt-get -y autoremove --purge"
  else
    tool safe "$_n" - "apt-get -y autoremove --purge" env DEBIAN_FRONTEND=noninteractive apt-get -y autoremove --purge
  fi
  set -- $(sizes find "$R/var/cache/apt/archives" -xdev -type f -name '*.deb')
  if [ "$DRY" = yes ]; then
    step safe would-run "${1:-0}" "${2:-0}" - "apt-get clean"
  else
    tool safe "${1:-0}" "${2:-0}" "apt-get clean" apt-get clean
  fi
}

snaps() {
  have snap || return 0
  if ! _list=$(snap list --all 2>&1); then
    step safe skipped - - - "disabled snap revisions (snap list failed: $(printf '%s\n' "$_list" | tail -n 1))"
    return 0
  fi
  while read -r _snap _rev; do
    [ -n "$_snap" ] || continue
    _b=$(stat -c %s "$R/var/lib/snapd/snaps/${_snap}_${_rev}.snap" 2>/dev/null) || _b=-
    if [ "$DRY" = yes ]; then
      step safe would-run 1 "$_b" - "snap remove $_snap --revision=$_rev"
    else
      tool safe 1 "$_b" "snap remove $_snap --revision=$_rev" snap remove "$_snap" --revision="$_rev"
    fi
  done <<EOF
$(printf '%s\n' "$_list" | awk 'NR > 1 && $NF ~ /disabled/ { print $1, $3 }')
EOF
}

docker_prune() {
  have docker || return 0
  _cmd="docker system prune -af --filter until=72h"
  if ! docker info >/dev/null 2>&1; then
    step deep skipped - - - "$_cmd (docker daemon not reachable)"
  elif [ "$DRY" = yes ]; then
    docker system df 2>/dev/null | sed 's/^/    /'
    step deep would-run - - - "$_cmd"
  else
    tool deep - - "$_cmd" docker system prune -af --filter until=72h
  fi
}

# TIER CACHE...: ~/.cache/CACHE of root and of every /home/* directory.
caches() {
  _tier=$1; shift
  for _home in "$R/root" "$R"/home/*; do
    [ -d "$_home" ] || continue
    for _c in "$@"; do
      clean_dir "$_tier" files "$_home/.cache/$_c"
    done
  done
}

main() {
  if [ "$(uname -s)" != Linux ]; then
    printf '%s:skip not applicable on %s\n' "$P" "$(uname -s)"
    return 0
  fi
  if [ -z "$R" ] && [ "$(id -u)" != 0 ]; then
    echo "axis-disk-cleanup: must run as root" >&2
    printf '%s:error needs root: log in as root or set sudo: true on the host\n' "$P"
    return 3
  fi
  set -- $(disk)
  _before=${1:-0} _pct=${2:-0}
  case $_pct in ''|*[!0-9]*) _pct=0 ;; esac
  printf '%s:start date=%s retention_days=%s deep_at_percent=%s dry_run=%s used_percent=%s\n' \
    "$P" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$RETENTION_DAYS" "$DEEP_AT_PERCENT" "$DRY" "$_pct"

  journal
  apt
  snaps
  clean_dir safe files "$R/var/crash"
  clean_dir safe files "$R/tmp"
  clean_dir safe files "$R/var/tmp"
  clean_dir safe logs "$R/var/log"
  caches safe @SAFE_CACHES_SH@

  _reason=no
  if [ "$FORCE_DEEP" = yes ]; then
    _reason=flag
  else
    if [ "$DRY" = no ]; then
      set -- $(disk)
      case ${2:-} in ''|*[!0-9]*) ;; *) _pct=$2 ;; esac
    fi
    [ "$_pct" -lt "$DEEP_AT_PERCENT" ] || _reason=disk
  fi
  if [ "$_reason" != no ]; then
    caches deep @DEEP_CACHES_SH@
    docker_prune
  fi

  set -- $(disk)
  _after=${1:-0}
  _freed=$(( (_before - _after) * 1024 ))
  # Others write to the disk meanwhile: a dry run frees nothing whatever df says.
  [ "$_freed" -ge 0 ] && [ "$DRY" = no ] || _freed=0
  _deep=yes
  [ "$_reason" != no ] || _deep=no
  printf '%s:clean before=%s after=%s freed=%s deep=%s deep_reason=%s dry_run=%s used_percent=%s estimate=%s errors=%s\n' \
    "$P" $((_before * 1024)) $((_after * 1024)) "$_freed" "$_deep" "$_reason" "$DRY" "$_pct" "$ESTIMATE" "$ERRORS"
  [ "$ERRORS" -eq 0 ] || return 1
}

DRY=no
FORCE_DEEP=no
for _arg in "$@"; do
  case $_arg in
    --deep) FORCE_DEEP=yes ;;
    --dry-run) DRY=yes ;;
    *) echo "axis-disk-cleanup: unknown option $_arg (options: --deep --dry-run)" >&2; exit 2 ;;
  esac
done

# Run from cron (as the installed file, not through `sh -s`), the report goes to the log.
case $0 in
  */axis-disk-cleanup)
    if [ "$DRY" = no ]; then
      mkdir -p "${LOG%/*}"
      [ -e "$LOG" ] || printf '%s: diskCleanup log (removed with the feature)\n' "@MARK@" >"$LOG"
      main >>"$LOG" 2>&1 && _rc=0 || _rc=$?
      if [ "$(awk 'END { print NR }' "$LOG")" -gt 5000 ]; then
        { head -n 1 "$LOG"; tail -n 4000 "$LOG"; } >"$LOG.tmp" && mv -f "$LOG.tmp" "$LOG"
      fi
      exit "$_rc"
    fi ;;
esac
main
