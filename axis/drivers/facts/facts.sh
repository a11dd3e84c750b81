# shellcheck shell=sh
# axis facts script v@VERSION@: one round trip, POSIX sh, Linux and macOS.
LC_ALL=C; LANG=C; export LC_ALL LANG
# The boundary is printf's argument: a printf that is no builtin would show it in every user's
# ps. The forms of dash, bash, busybox ash, zsh and ksh93; any other shell is refused.
case $(command -V printf 2>&1) in
  "printf is a shell builtin" | "printf is a special shell builtin") ;;
  *) echo "axis facts: refusing to run: printf is not a builtin of this sh ($(command -V printf 2>&1 | head -n 1)), so the run's boundary would be visible in ps; make /bin/sh dash, bash or busybox" >&2
     exit 1 ;;
esac
# This run's marker prefix; not exported, so no probe sees it (see the module docstring).
_axis_m=@MARKER@
PATH="${PATH:-/usr/bin:/bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/cuda/bin"
export PATH
exec 4>&1
_axis_has() { command -v "$1" >/dev/null 2>&1; }
_axis_need() { _axis_has "$1" || { printf '%s not found\n' "$1" >&2; return 127; }; }
# _axis_t SECONDS CMD...: bound an external command that is known to hang.
_axis_t() { _axis_s=$1; shift; if _axis_has timeout; then timeout "$_axis_s" "$@"; else "$@"; fi; }
# _axis_section NAME CMD...: stdout verbatim, then stderr (prefixed), then the exit status.
# Each section's stderr is kept apart from its stdout and printed after it, framed line by line.
# Where the script could open one (below), it goes to a file on /dev/shm (tmpfs: a full disk
# cannot lose it), written through fd 5 and read back through fd 6, and unlinked at once: the
# probe then runs in this shell, with no subshell per section (a fork each, a fifth of the script's
# CPU on a host). Elsewhere (macOS, no /dev/shm, name taken) a command substitution captures it.
_axis_e=/dev/shm/.axis-facts-@ERRFILE@
_axis_fd=
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  _axis_mask=$(umask); umask 077; set -C  # noclobber: never a file (or link) someone else put there
  if { command exec 5>"$_axis_e"; } 2>/dev/null; then
    { command exec 6<"$_axis_e"; } 2>/dev/null && _axis_fd=1
    rm -f -- "$_axis_e"
    [ -n "$_axis_fd" ] || exec 5>&-
  fi
  set +C; umask "$_axis_mask"
fi
# _axis_stderr NAME: frame at most 20 non-empty lines of the section's stderr (read on stdin).
_axis_stderr() {
  _axis_n=0
  while IFS= read -r _axis_l || [ -n "$_axis_l" ]; do
    [ -n "$_axis_l" ] && [ "$_axis_n" -lt 20 ] && printf '%s:stderr:%s %s\n' "$_axis_m" "$1" "$_axis_l"
    _axis_n=$((_axis_n + 1))
  done
}
# _axis_capture CMD...: run CMD with its stdout straight out, its exit status in $_axis_rc and
# its stderr kept for `_axis_errors NAME`, which frames it.
if [ -n "$_axis_fd" ]; then
  _axis_capture() { "$@" 2>&5 4>&- 5>&- 6<&-; _axis_rc=$?; }
  _axis_errors() { _axis_stderr "$1" <&6; }
else
  _axis_capture() {
    _axis_err=$( { "$@" 2>&1 1>&4 4>&-; printf '@@rc=%s' "$?"; } )
    _axis_rc=${_axis_err##*@@rc=}
    _axis_err=${_axis_err%@@rc=*}
  }
  _axis_errors() { [ -z "$_axis_err" ] || printf '%s\n' "$_axis_err" | _axis_stderr "$1"; }
fi
_axis_section() {
  _axis_name=$1; shift
  printf '%s:section:%s\n' "$_axis_m" "$_axis_name"
  _axis_capture "$@" </dev/null
  # Always one newline after the stdout: the markers below start a line even when the probe's
  # last line had none, and the parser removes exactly this newline again.
  printf '\n'
  _axis_errors "$_axis_name"
  printf '%s:end:%s rc=%s\n' "$_axis_m" "$_axis_name" "$_axis_rc"
}
# _axis_group NAME CMD...: CMD prints whole sections itself (the root probes, through one sudo);
# then a section NAME of its own, without stdout, carries CMD's exit status and stderr (sudo's).
_axis_group() {
  _axis_name=$1; shift
  _axis_capture "$@"
  printf '%s:section:%s\n\n' "$_axis_m" "$_axis_name"
  _axis_errors "$_axis_name"
  printf '%s:end:%s rc=%s\n' "$_axis_m" "$_axis_name" "$_axis_rc"
}
# _axis_probe COMMAND: a feature driver's probe, in a subshell of its own (it may `exit`, set
# variables, define functions) rather than a new `sh -c`: a fork, no exec.
_axis_probe() { ( eval "$1" ); }
_axis_cat() { for _axis_f in "$@"; do [ -r "$_axis_f" ] && { cat "$_axis_f"; return; }; done; printf '%s not readable\n' "$1" >&2; return 1; }
# _axis_read: _axis_cat for small files with the shell's own `read` (no process; a last line
# without a newline is kept). Not for /proc/sys (the shell reads a byte at a time, and those
# files answer only a read from offset 0), for files whose read may fail (PSI), nor for files
# that can be large (/proc/mounts: tens of KiB on a container host, a syscall per byte): cat there.
_axis_read() {
  for _axis_f in "$@"; do
    [ -r "$_axis_f" ] || continue
    while IFS= read -r _axis_l || [ -n "$_axis_l" ]; do printf '%s\n' "$_axis_l"; done < "$_axis_f"
    return
  done
  printf '%s not readable\n' "$1" >&2; return 1
}
# $_axis_u is the script's one `uname -s -n -r -m`: POSIX fixes that order, none holds a blank.
_axis_uname() {
  set -f; set -- $_axis_u; set +f
  if [ $# -eq 4 ]; then printf '%s\n' "$1" "$3" "$4" "$2"
  else uname -s && uname -r && uname -m && uname -n; fi
}
# $_axis_id is the script's one `id`: "uid=0(root) gid=0(root) ..." (POSIX format, C locale);
# a uid without a passwd entry has no "(name)" and gets `id -un`'s answer (an error).
_axis_user() {
  _axis_who=${_axis_id%% *}
  case $_axis_who in
    *\(*\)) _axis_who=${_axis_who#*\(}; _axis_who=${_axis_who%\)} ;;
    *) _axis_who=$(id -un 2>/dev/null) ;;
  esac
  printf 'uid: %s\n' "$_axis_uid" && printf 'user: %s\n' "$_axis_who"
}
# root needs no sudo: only whether it is installed is reported, without running it.
_axis_sudo() { _axis_need sudo || return; [ "$_axis_uid" = 0 ] && return 0; sudo -n true; }
# No subshell per tool: `command -v` prints the path and its newline, or nothing.
# What can cap a job's memory (axis/drivers/jobs/runner.sh checks the same again in the job):
# systemd as PID 1 with a memory controller in cgroup v2 (systemd-run sets MemoryMax), else a
# watchdog that needs a process-group tool and `ps` that reports each process's group and RSS.
_axis_enforcement() {
  if [ -d /run/systemd/system ]; then echo 'systemd: yes'; else echo 'systemd: no'; fi
  if [ -r /sys/fs/cgroup/cgroup.controllers ]; then
    _axis_l=; IFS= read -r _axis_l < /sys/fs/cgroup/cgroup.controllers; printf 'cgroup2-controllers: %s\n' "$_axis_l"
  else echo 'cgroup2: none'; fi
  _axis_has systemd-run && echo 'systemd-run: yes'
  for _axis_tool in setsid perl python3; do
    _axis_has "$_axis_tool" && { printf 'group-tool: %s\n' "$_axis_tool"; break; }
  done
  if ps -A -o pgid= -o rss= >/dev/null 2>&1; then echo 'ps: yes'; else echo 'ps: no'; fi
}
_axis_tools() {
  for _axis_tool in "$@"; do
    printf '%s\t' "$_axis_tool"
    command -v "$_axis_tool" 2>/dev/null || echo
  done
}
_axis_cpu() {
  [ -r /proc/cpuinfo ] || { echo '/proc/cpuinfo not readable' >&2; return 1; }
  printf 'online: %s\n' "$(getconf _NPROCESSORS_ONLN 2>/dev/null)"
  _axis_has nproc && printf 'usable: %s\n' "$(nproc 2>/dev/null)"
  # one awk for the count and the first two model lines (was two greps: a process each)
  awk '/^processor/ { n++ } m < 2 && /^(model name|Hardware|Model|cpu model)[ \t]*:/ { print; m++ }
       END { printf "processors: %d\n", n }' /proc/cpuinfo
  # lscpu's lines picked by the shell (was `| sed`: a pipe and a process more)
  _axis_has lscpu || return 0
  _axis_o=$(lscpu 2>/dev/null)
  set -f; _axis_ifs=$IFS; IFS='
'
  for _axis_l in $_axis_o; do
    case $_axis_l in
      "Model name:"* | "Vendor ID:"* | "Socket(s):"* | "Core(s) per socket:"* | "Thread(s) per core:"*)
        printf 'lscpu %s\n' "$_axis_l" ;;
    esac
  done
  IFS=$_axis_ifs; set +f
  return 0
}
# one-line cgroup files (kernfs, read from any offset): the shell's `read`, no process
_axis_cgroup_memory() {
  _axis_l=
  if [ -r /sys/fs/cgroup/memory.max ]; then IFS= read -r _axis_l < /sys/fs/cgroup/memory.max; printf 'v2 %s\n' "$_axis_l"
  elif [ -r /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then
    IFS= read -r _axis_l < /sys/fs/cgroup/memory/memory.limit_in_bytes; printf 'v1 %s\n' "$_axis_l"
  else echo 'no cgroup memory limit file' >&2; return 1; fi
}
_axis_lspci() {
  _axis_need lspci || return
  _axis_o=$(lspci 2>&1) || { printf '%s\n' "$_axis_o" >&2; return 1; }
  printf '%s\n' "$_axis_o" | grep -Ei 'vga|3d controller|display controller'
  return 0
}
_axis_nvidia() { _axis_need nvidia-smi || return; _axis_t 15 nvidia-smi --query-gpu=@NVIDIA_QUERY@ --format=csv,noheader,nounits; }
_axis_addresses() {
  if _axis_has ip; then echo 'tool: ip'; ip -o addr show
  elif _axis_has ifconfig; then echo 'tool: ifconfig'; ifconfig -a
  else echo 'neither ip nor ifconfig found' >&2; return 127; fi
}
_axis_init() {
  if [ -d /run/systemd/system ]; then echo systemd
  else printf 'pid1 %s\n' "$(cat /proc/1/comm 2>/dev/null)"; fi
}
_axis_virt() {
  if _axis_has systemd-detect-virt; then
    # Without options it names the container, else the VM (else "none"): one run answers both
    # outside containers; inside one, a second run asks for the VM beneath.
    _axis_v=$(systemd-detect-virt 2>/dev/null)
    case $_axis_v in
      openvz|lxc|lxc-libvirt|systemd-nspawn|docker|podman|rkt|wsl|proot|pouch|container-other)
        printf 'detect-virt-vm: %s\n' "$(systemd-detect-virt --vm 2>/dev/null)"
        printf 'detect-virt-container: %s\n' "$_axis_v" ;;
      *) printf 'detect-virt-vm: %s\ndetect-virt-container: none\n' "$_axis_v" ;;
    esac
  fi
  [ -e /.dockerenv ] && echo 'dockerenv: yes'
  [ -e /run/.containerenv ] && echo 'containerenv: yes'
  # /proc/sys/kernel/osrelease is `uname -r`, already in $_axis_u (was a grep of that file)
  set -f; set -- $_axis_u; set +f
  if [ $# -eq 4 ]; then
    case $3 in *[Mm][Ii][Cc][Rr][Oo][Ss][Oo][Ff][Tt]*) echo 'wsl: yes' ;; esac
  else grep -qi microsoft /proc/sys/kernel/osrelease 2>/dev/null && echo 'wsl: yes'; fi
  # sysfs and seq_file files are read with the shell's own `read`: no process per hint.
  grep -qE '^flags.* hypervisor' /proc/cpuinfo 2>/dev/null && echo 'cpu-flag: hypervisor'
  if [ -r /sys/class/dmi/id/product_name ]; then
    _axis_l=; IFS= read -r _axis_l < /sys/class/dmi/id/product_name; printf 'dmi-product: %s\n' "$_axis_l"
  fi
  if [ -r /proc/1/cgroup ]; then
    _axis_n=0
    while [ "$_axis_n" -lt 8 ] && IFS= read -r _axis_l; do
      printf 'cgroup: %s\n' "$_axis_l"; _axis_n=$((_axis_n + 1))
    done < /proc/1/cgroup
  fi
  return 0
}
_axis_sysctl() { _axis_src=0; for _axis_k in "$@"; do sysctl "$_axis_k" || _axis_src=1; done; return $_axis_src; }
_axis_displays() { _axis_need system_profiler || return; _axis_t 20 system_profiler SPDisplaysDataType; }

_axis_u=$(uname -s -n -r -m 2>/dev/null)
_axis_os=${_axis_u%% *}
_axis_id=$(id 2>/dev/null)
_axis_uid=${_axis_id#uid=}
_axis_uid=${_axis_uid%%[!0-9]*}
printf '%s:facts v=@VERSION@ os=%s\n' "$_axis_m" "$_axis_os"
_axis_section uname _axis_uname
_axis_section user _axis_user
_axis_section sudo _axis_sudo
_axis_section memory_enforcement _axis_enforcement
_axis_section tools _axis_tools @TOOLS@
_axis_section df_root df -kP /
_axis_section df _axis_t 10 df -kP
if [ "$_axis_os" = Darwin ]; then
  _axis_section sw_vers sw_vers
  _axis_section sysctl _axis_sysctl @SYSCTLS@
  _axis_section vm_stat vm_stat
  _axis_section pmset pmset -g
  _axis_section mounts mount
  _axis_section addresses ifconfig -a
  _axis_section displays _axis_displays
else
  _axis_section os_release _axis_read /etc/os-release /usr/lib/os-release
  _axis_section cpu _axis_cpu
  _axis_section loadavg _axis_read /proc/loadavg
  _axis_section meminfo _axis_read /proc/meminfo
  _axis_section psi _axis_cat /proc/pressure/memory
  _axis_section cgroup_memory _axis_cgroup_memory
  _axis_section swaps _axis_read /proc/swaps
  _axis_section swappiness _axis_cat /proc/sys/vm/swappiness
  _axis_section mounts _axis_cat /proc/mounts
  _axis_section addresses _axis_addresses
  _axis_section init _axis_init
  _axis_section virt _axis_virt
  _axis_section nvidia _axis_nvidia
  _axis_section lspci _axis_lspci
fi
@EXTRA_SECTIONS@
@ROOT_SECTIONS@
printf '%s:done\n' "$_axis_m"
