# shellcheck shell=sh
# axis job runner v1: runs one `axis exec` job on a host, capped at its claim's memory.
#
# Sent on stdin and saved as $HOME/.axis/jobs/<job-id>/runner.sh by the start command
# (axis/drivers/jobs/protocol.py), then run from that file, so that a systemd unit or a
# detached supervisor can run it again:
#   sh runner.sh start DIR CAP MODE DETACH SUDO STRICT LINE   the client's command (foreground or detach)
#   sh runner.sh inner DIR DETACH STRICT                      inside the systemd unit (cgroup mode)
#   sh runner.sh supervise DIR                         the detached watchdog supervisor
# CAP is bytes (0: uncapped, --no-cap); MODE is cgroup, watchdog or none (what the host's
# facts said); DETACH, SUDO and STRICT are 0 or 1 (SUDO: the host's spec lets axis use `sudo -n`;
# STRICT: the claim requires cgroup enforcement, so the job is refused rather than watched);
# LINE is the user's shell line, run as `sh -c "$LINE"` and never pasted into a command.
# Every fact goes into its own file in DIR (see protocol.py); what the client reports is read
# from those files after the job ended, never from the job's output.
# The caller's LC_ALL and PATH, given back to the job: the runner's own commands need the C
# locale (numbers) and the sbin directories (systemd-run, setsid), the job does not.
_j_path=${PATH:-/usr/bin:/bin}; _j_lc=${LC_ALL-}; _j_lc_set=${LC_ALL+1}
LC_ALL=C; export LC_ALL
PATH="$_j_path:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
export PATH
_j_grace=20  # quarter seconds between TERM and KILL (5 s)
# Tests only: a directory holding a fake run/systemd/system, sys/fs/cgroup and proc/self/cgroup.
_j_tr=${AXIS_JOB_TEST_ROOT-}

# _j_put NAME VALUE: one fact, written whole (temporary file + rename). _j_get FILE: its first line.
_j_put() { printf '%s\n' "$2" > "$_j_dir/$1.tmp" && mv -f "$_j_dir/$1.tmp" "$_j_dir/$1"; }
_j_get() { _j_v=; [ -r "$1" ] && IFS= read -r _j_v < "$1"; printf '%s' "$_j_v"; }
_j_has() { command -v "$1" >/dev/null 2>&1; }
_j_end() { _j_put exit "$1"; _j_put ended "$(date +%s)"; }

# _j_env_save / _j_env_load: the caller's LC_ALL and PATH, kept for a supervisor or a unit,
# which do not run with the caller's environment.
_j_env_save() { _j_put path "$_j_path"; if [ -n "$_j_lc_set" ]; then _j_put lc_all "$_j_lc"; fi; }
_j_env_load() {
  _j_v=$(_j_get "$_j_dir/path"); [ -n "$_j_v" ] && _j_path=$_j_v
  _j_lc_set=
  if [ -f "$_j_dir/lc_all" ]; then _j_lc_set=1; _j_lc=$(_j_get "$_j_dir/lc_all"); fi
}

# _j_group_tool: how the job gets a process group of its own, or why it cannot.
_j_group_tool() {
  for _j_pg in setsid perl python3; do
    _j_pgpath=$(command -v "$_j_pg" 2>/dev/null) && return 0
  done
  _j_pg=none
  _j_why="neither setsid, perl nor python3 is there to give the job a process group of its own"; return 1
}

# _j_spawn: start the job in the background in a process group of its own ($_j_pid is its id),
# with the caller's LC_ALL and PATH and the default SIGHUP (a detached supervisor ignores it).
_j_spawn() {
  _j_sh=$(command -v sh)
  (
    trap - HUP
    PATH=$_j_path; export PATH
    if [ -n "$_j_lc_set" ]; then LC_ALL=$_j_lc; export LC_ALL; else unset LC_ALL; fi
    case $_j_pg in
      setsid) exec "$_j_pgpath" "$_j_sh" -c "$_j_line" ;;
      perl) exec "$_j_pgpath" -e 'setpgrp(0, 0); exec @ARGV or die "exec: $!\n"' "$_j_sh" -c "$_j_line" ;;
      python3) exec "$_j_pgpath" -c 'import os, sys; os.setpgid(0, 0); os.execv(sys.argv[1], sys.argv[1:])' \
           "$_j_sh" -c "$_j_line" ;;
      *) exec "$_j_sh" -c "$_j_line" ;;  # uncapped, no tool: in the runner's own group
    esac
  ) </dev/null &
  _j_pid=$!
  if [ "$_j_pg" = none ]; then
    _j_g=$(ps -o pgid= -p "$$" 2>/dev/null) || read -r _ _ _ _ _j_g _ < "/proc/$$/stat"
    _j_put pgid "$((_j_g))"
  else _j_put pgid "$_j_pid"; fi
}

# _j_rss PGID: the memory of every process in the group, in bytes: each one's proportional
# share (Pss, Linux's /proc/PID/smaps_rollup), so that pages a fork shares are counted once;
# its resident size where there is no such file (macOS, old kernels).
_j_rss() {
  ps -A -o pid= -o pgid= -o rss= 2>/dev/null | awk -v g="$1" '
    $2 == g { k = $3; f = "/proc/" $1 "/smaps_rollup"
              while ((getline l < f) > 0) if (l ~ /^Pss:/) { split(l, a, " "); k = a[2]; break }
              close(f); s += k }
    END { printf "%.0f\n", s * 1024 }'
}

# _j_kill_group PGID: TERM to the group, KILL after the grace; nothing when it is gone.
_j_kill_group() {
  kill -s TERM -- "-$1" 2>/dev/null || return 0
  _j_n=0
  while [ "$_j_n" -lt "$_j_grace" ] && kill -s 0 -- "-$1" 2>/dev/null; do sleep 0.25; _j_n=$((_j_n + 1)); done
  kill -s KILL -- "-$1" 2>/dev/null
  return 0
}

# _j_watch PGID CAP: sample the group every 200 ms; over the cap, record it and kill the group.
_j_watch() {
  # The job makes its group itself (setsid) just after it started: wait for that first.
  while ! kill -s 0 -- "-$1" 2>/dev/null; do kill -s 0 -- "$1" 2>/dev/null || return 0; sleep 0.05; done
  while kill -s 0 -- "-$1" 2>/dev/null; do
    _j_used=$(_j_rss "$1")
    if [ "${_j_used:-0}" -gt "$2" ]; then _j_put oom "$_j_used $2"; _j_kill_group "$1"; return 0; fi
    sleep 0.2
  done
}

# _j_run MODE: run the job to its end with the watchdog (MODE watchdog) or without (cgroup,
# none). When its first process exits, what it left in its group is stopped too (TERM, then
# KILL), as systemd stops a service's control group: nothing of it runs on unwatched, unleased.
_j_run() {
  _j_spawn
  _j_w=
  if [ "$1" = watchdog ]; then
    _j_watch "$_j_pid" "$_j_cap" </dev/null >/dev/null 2>&1 &
    _j_w=$!
  fi
  # The shell reports a killed background job ("Terminated") on wait's stderr: not the job's words.
  wait "$_j_pid" 2>/dev/null; _j_rc=$?
  [ "$_j_pg" = none ] || _j_kill_group "$_j_pid"
  if [ -n "$_j_w" ]; then
    if [ -f "$_j_dir/oom" ]; then wait "$_j_w"; else kill -s TERM -- "$_j_w" 2>/dev/null; wait "$_j_w" 2>/dev/null; fi
  fi
  [ -f "$_j_dir/oom" ] && _j_rc=137
  _j_end "$_j_rc"
  return "$_j_rc"
}

# _j_watchdog_why: empty when the watchdog can run here, else why not.
_j_watchdog_why() {
  _j_why=
  _j_group_tool || return 1
  ps -A -o pgid= -o rss= >/dev/null 2>&1 || { _j_why="ps -A -o pgid= -o rss= fails, so the job's memory cannot be measured"; return 1; }
}

# _j_cgroup_why: empty when systemd can cap the job in a cgroup v2 memory controller.
_j_cgroup_why() {
  _j_why=
  [ -d "$_j_tr/run/systemd/system" ] || { _j_why="systemd is not running as PID 1"; return 1; }
  [ -r "$_j_tr/sys/fs/cgroup/cgroup.controllers" ] || { _j_why="no cgroup v2 hierarchy at /sys/fs/cgroup"; return 1; }
  _j_c=$(_j_get "$_j_tr/sys/fs/cgroup/cgroup.controllers")
  case " $_j_c " in
    *" memory "*) ;;
    *) _j_why="the cgroup v2 hierarchy has no memory controller (cgroup.controllers: $_j_c)"; return 1 ;;
  esac
  _j_has systemd-run || { _j_why="systemd-run is not installed"; return 1; }
  if [ "$(id -u)" = 0 ]; then _j_root=
  elif [ "$_j_sudo" = 1 ] && sudo -n true 2>/dev/null; then _j_root="sudo -n"
  else _j_why="systemd-run needs root, and sudo -n is not allowed"; return 1; fi
}

# _j_fallback WHY: no cgroup cap is in force; the watchdog takes over, or nothing (STRICT: the
# claim requires a cgroup cap, so nothing).
_j_fallback() {
  if [ "$_j_strict" = 1 ]; then _j_put enforcement "none the claim requires cgroup enforcement: $1"; _j_mode=none
  elif _j_watchdog_why; then _j_put enforcement "watchdog $1"; _j_mode=watchdog
  else _j_put enforcement "none $1; $_j_why"; _j_mode=none; fi
}

# _j_unit_start: the job in a transient unit with MemoryMax; 1 when the unit did not run the job
# (nothing of it runs then), else the job's status (125: the runner inside refused it).
_j_unit_start() {
  _j_unit=axis-job-${_j_dir##*/}
  set -- -p "MemoryMax=$_j_cap" -p MemorySwapMax=0
  [ -n "$_j_root" ] && set -- "$@" --uid "$(id -u)" --gid "$(id -g)"
  if [ "$_j_detach" = 1 ]; then
    _j_put unit "$_j_unit.service"
    # shellcheck disable=SC2086 # $_j_root is empty or "sudo -n"
    $_j_root systemd-run --quiet --unit "$_j_unit" -p OOMPolicy=kill "$@" -- sh "$_j_dir/runner.sh" inner "$_j_dir" 1 "$_j_strict" \
      </dev/null >/dev/null 2>"$_j_dir/unit.err" || return 1
    _j_n=0  # started when the job's process group is known; refused when `exit` is written
    while [ ! -f "$_j_dir/pgid" ] && [ ! -f "$_j_dir/exit" ] && [ "$_j_n" -lt 40 ]; do sleep 0.25; _j_n=$((_j_n + 1)); done
    [ -f "$_j_dir/pgid" ] && return 0
    [ -f "$_j_dir/exit" ] && return "$(_j_get "$_j_dir/exit")"
    # Too slow: stopped before anything else starts, so that the job never runs twice.
    echo "the unit did not start the job within 10 s; stopped" > "$_j_dir/unit.err"
    # shellcheck disable=SC2086
    { $_j_root systemctl stop "$_j_unit.service"; $_j_root systemctl reset-failed "$_j_unit.service"; } >/dev/null 2>&1
    rm -f "$_j_dir/pgid" "$_j_dir/exit" "$_j_dir/ended"
    return 1
  fi
  _j_put unit "$_j_unit.scope"
  # shellcheck disable=SC2086
  $_j_root systemd-run --quiet --scope --unit "$_j_unit" "$@" -- sh "$_j_dir/runner.sh" inner "$_j_dir" 0 "$_j_strict"
  _j_rc=$?
  # No `exit` with a `pgid`: the kernel's OOM kill took the runner with the job.
  if [ -f "$_j_dir/pgid" ] && [ ! -f "$_j_dir/exit" ] \
     && [ "$(systemctl show -p Result --value "$_j_unit.scope" 2>/dev/null)" = oom-kill ]; then
    _j_put oom "$_j_cap $_j_cap"; _j_rc=137
  fi
  # What the job left in its scope outside its process group ends with it.
  # shellcheck disable=SC2086
  { $_j_root systemctl stop "$_j_unit.scope"; $_j_root systemctl reset-failed "$_j_unit.scope"; } >/dev/null 2>&1
  [ -f "$_j_dir/pgid" ] || { [ -f "$_j_dir/exit" ] && return "$_j_rc"; return 1; }  # refused inside, or never ran
  [ -f "$_j_dir/exit" ] || _j_end "$_j_rc"
  return "$_j_rc"
}

# _j_inner: inside the unit, before the job starts, check that the cap is really in force: the
# unit's cgroup has memory.max at the cap, and memory.swap.max 0 (or no swap accounting at all).
_j_inner() {
  [ "$_j_detach" = 1 ] && exec >>"$_j_dir/log" 2>&1
  # The job runs as a plain `axis exec` runs it: in the login user's home, with that HOME (a
  # service starts in /, and sudo may have set root's).
  HOME=${_j_dir%/.axis/jobs/*}; export HOME; cd "$HOME" || :
  _j_line=$(cat "$_j_dir/line"); _j_cap=$(_j_get "$_j_dir/cap"); _j_mode=cgroup; _j_env_load
  _j_cg=; while IFS= read -r _j_l; do case $_j_l in 0::*) _j_cg=${_j_l#0::} ;; esac; done < "$_j_tr/proc/self/cgroup"
  _j_max=$(_j_get "$_j_tr/sys/fs/cgroup$_j_cg/memory.max")
  _j_swap=$(_j_get "$_j_tr/sys/fs/cgroup$_j_cg/memory.swap.max")
  _j_in="cgroup systemd unit $_j_unit, memory.max $_j_max"
  case $_j_max in
    ''|*[!0-9]*) _j_fallback "systemd accepted MemoryMax but its cgroup $_j_cg enforces no limit (memory.max: ${_j_max:-absent})" ;;
    *) if [ "$_j_max" -gt "$_j_cap" ] || [ $((_j_cap - _j_max)) -ge 65536 ]; then
         _j_fallback "the unit's memory.max is $_j_max, not the cap $_j_cap"
       else case $_j_swap in
         0) _j_put enforcement "$_j_in, memory.swap.max 0" ;;
         '') _j_put enforcement "$_j_in; no memory.swap.max: this kernel does not account swap, so past its cap the job may swap" ;;
         *) _j_fallback "the unit's memory.swap.max is $_j_swap, not 0: the job could swap past its cap" ;;
       esac; fi ;;
  esac
  _j_group_tool
  if [ "$_j_mode" = none ] || [ "$_j_pg" = none ]; then _j_end 125; return 125; fi
  _j_run "$_j_mode"; _j_rc=$?
  _j_kills=$(awk '$1 == "oom_kill" { print $2 }' "$_j_tr/sys/fs/cgroup$_j_cg/memory.events" 2>/dev/null)
  if [ "$_j_mode" = cgroup ] && [ "${_j_kills:-0}" -gt 0 ]; then
    _j_peak=$(_j_get "$_j_tr/sys/fs/cgroup$_j_cg/memory.peak")
    _j_put oom "${_j_peak:-$_j_max} $_j_cap"; _j_end 137; return 137
  fi
  return "$_j_rc"
}

# _j_start: the client's command; a job that cannot be capped as asked does not start (exit 125).
_j_start() {
  _j_put started "$(date +%s)"
  _j_put cap "$_j_cap"
  _j_env_save
  printf '%s' "$_j_line" > "$_j_dir/line"
  if [ "$_j_cap" = 0 ]; then _j_put enforcement "none uncapped (--no-cap)"; _j_mode=none
  elif [ "$_j_mode" = cgroup ]; then
    if _j_cgroup_why; then
      _j_put enforcement "cgroup systemd unit axis-job-${_j_dir##*/}"
      _j_unit_start; _j_rc=$?
      { [ -f "$_j_dir/pgid" ] || [ -f "$_j_dir/exit" ]; } && return "$_j_rc"
      rm -f "$_j_dir/unit"
      _j_fallback "systemd-run could not start the unit (exit $_j_rc$(_j_get "$_j_dir/unit.err" | sed 's/^./: &/'))"
    else _j_fallback "$_j_why"; fi
  elif [ "$_j_strict" = 1 ]; then _j_fallback "the host's facts say $_j_mode"
  elif [ "$_j_mode" = watchdog ]; then
    if _j_watchdog_why; then _j_cgroup_why; _j_put enforcement "watchdog ${_j_why:-as the client chose}"
    else _j_put enforcement "none $_j_why"; _j_mode=none; fi
  else _j_put enforcement "none the host's facts say no cap can be enforced"; fi
  # Refused: no pgid file, `enforcement` says why (the client reports it).
  if [ "$_j_mode" = none ] && [ "$_j_cap" != 0 ]; then _j_end 125; return 125; fi
  # Uncapped without a group of its own: run plainly, in the runner's group.
  _j_group_tool || _j_put enforcement "none uncapped (--no-cap), in the runner's process group: $_j_why"
  if [ "$_j_detach" = 1 ]; then
    case $_j_pg in
      setsid) "$_j_pgpath" sh "$_j_dir/runner.sh" supervise "$_j_dir" "$_j_mode" </dev/null >>"$_j_dir/log" 2>&1 & ;;
      *) sh "$_j_dir/runner.sh" supervise "$_j_dir" "$_j_mode" </dev/null >>"$_j_dir/log" 2>&1 & ;;
    esac
    _j_n=0
    while [ ! -f "$_j_dir/pgid" ] && [ "$_j_n" -lt 40 ]; do sleep 0.25; _j_n=$((_j_n + 1)); done
    [ -f "$_j_dir/pgid" ] || { echo "axis: the detached job did not start" >&2; return 125; }
    return 0
  fi
  _j_run "$_j_mode"
}

_j_action=$1; _j_dir=$2
case $_j_action in
  start) _j_cap=$3; _j_mode=$4; _j_detach=$5; _j_sudo=$6; _j_strict=$7; _j_line=$8; _j_start ;;
  inner) _j_detach=$3; _j_strict=$4; _j_unit=axis-job-${_j_dir##*/}; _j_inner ;;
  supervise)
    trap '' HUP
    _j_line=$(cat "$_j_dir/line"); _j_cap=$(_j_get "$_j_dir/cap"); _j_env_load
    _j_group_tool || [ "$_j_cap" = 0 ] || exit 125
    _j_run "$3" ;;
  *) echo "axis job runner: unknown action $_j_action" >&2; exit 2 ;;
esac
