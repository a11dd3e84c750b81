# shellcheck shell=sh
# axis root probes: the feature probes that need root, run by one `sudo -n` for all of them
# (the facts script feeds this text to that root shell on its stdin; see script.py). It prints
# whole sections of the facts protocol, framed with the run's marker like the facts script's.
# This shell is another process, so it defines the section functions again (the facts script's
# command-substitution form, which needs no file).
LC_ALL=C; LANG=C; export LC_ALL LANG
case $(command -V printf 2>&1) in
  "printf is a shell builtin" | "printf is a special shell builtin") ;;
  *) echo "axis facts: refusing to run the root probes: printf is not a builtin of this sh, so the run's boundary would be visible in ps" >&2
     exit 1 ;;
esac
_axis_m=@MARKER@
exec 4>&1
_axis_stderr() {
  _axis_n=0
  while IFS= read -r _axis_l || [ -n "$_axis_l" ]; do
    [ -n "$_axis_l" ] && [ "$_axis_n" -lt 20 ] && printf '%s:stderr:%s %s\n' "$_axis_m" "$1" "$_axis_l"
    _axis_n=$((_axis_n + 1))
  done
}
_axis_section() {
  _axis_name=$1; shift
  printf '%s:section:%s\n' "$_axis_m" "$_axis_name"
  _axis_err=$( { "$@" </dev/null 2>&1 1>&4 4>&-; printf '@@rc=%s' "$?"; } )
  _axis_rc=${_axis_err##*@@rc=}
  _axis_err=${_axis_err%@@rc=*}
  printf '\n'
  [ -z "$_axis_err" ] || printf '%s\n' "$_axis_err" | _axis_stderr "$_axis_name"
  printf '%s:end:%s rc=%s\n' "$_axis_m" "$_axis_name" "$_axis_rc"
}
_axis_probe() { ( eval "$1" ); }
@SECTIONS@
