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
_axis_section() {
  _axis_name=$1; shift
  printf '%s:section:%s\n' "$_axis_m" "$_axis_name"
  _axis_err=$( { "$@" </dev/null 2>&1 1>&4 4>&-; printf '@@rc=%s' "$?"; } )
  _axis_rc=${_axis_err##*@@rc=}
  _axis_err=${_axis_err%@@rc=*}
  # Always one newline after the stdout: the markers below start a line even when the probe's
  # last line had none, and the parser removes exactly this newline again.
  printf '\n'
  if [ -n "$_axis_err" ]; then
    _axis_n=0
    printf '%s\n' "$_axis_err" | while IFS= read -r _axis_l; do
      [ -n "$_axis_l" ] && [ "$_axis_n" -lt 20 ] && printf '%s:stderr:%s %s\n' "$_axis_m" "$_axis_name" "$_axis_l"
      _axis_n=$((_axis_n + 1))
    done
  fi
  printf '%s:end:%s rc=%s\n' "$_axis_m" "$_axis_name" "$_axis_rc"
}
_axis_cat() { for _axis_f in "$@"; do [ -r "$_axis_f" ] && { cat "$_axis_f"; return; }; done; printf '%s not readable\n' "$1" >&2; return 1; }
# _axis_read: _axis_cat for small files with the shell's own `read` (no process; a last line
# without a newline is kept). Not for /proc/sys (the shell reads a byte at a time, and those
# files answer only a read from offset 0) nor for files whose read may fail (PSI): cat there.
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
  _axis_has lscpu && lscpu 2>/dev/null | sed -n -E '/^(Model name|Vendor ID|Socket\(s\)|Core\(s\) per socket|Thread\(s\) per core):/s/^/lscpu /p'
  return 0
}
_axis_cgroup_memory() {
  if [ -r /sys/fs/cgroup/memory.max ]; then printf 'v2 %s\n' "$(cat /sys/fs/cgroup/memory.max)"
  elif [ -r /sys/fs/cgroup/memory/memory.limit_in_bytes ]; then printf 'v1 %s\n' "$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
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
  grep -qi microsoft /proc/sys/kernel/osrelease 2>/dev/null && echo 'wsl: yes'
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
  _axis_section meminfo _axis_cat /proc/meminfo
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
printf '%s:done\n' "$_axis_m"
