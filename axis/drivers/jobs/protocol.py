"""The commands of the job protocol: start a job, read its state, stop it, show its log, forget it.

Every `axis exec` (foreground or `--detach`) is a job with an id, `<claim>-<12 hex>`, run by one
POSIX sh runner (`runner.sh`, package data beside this module). The start command saves the
runner, sent on stdin, as `$HOME/.axis/jobs/<job-id>/runner.sh` (0700 directory) and runs it from
there, so that a systemd unit or a detached supervisor can run the same file again. The job's
facts are small files in that directory:

    line         the command line             cap      bytes (0: uncapped)
    enforcement  `cgroup|watchdog|none <reason>`, what was really in force
    pgid         the job's process group      unit     systemd unit, `axis-job-<id>.scope|.service`
    started      epoch seconds                ended    epoch seconds
    exit         exit status (137: killed for memory)
    oom          `<used bytes> <cap bytes>` when killed for memory
    log          stdout and stderr of a detached job
    path         the caller's PATH            lc_all   the caller's LC_ALL (when it had one)

The client reads a job's result with `job_state_command` after the job ended, on the same
connection; never from the job's own output, which the job could forge (its files it could
write too, as the same user: a job runs while its process group has a process, whatever `exit`
says, and the runner writes `exit` only once the group is gone). Every value goes into
a command as one `shlex.quote`d argument of a fixed script: nothing is pasted.
"""

from __future__ import annotations

import re
import secrets
import shlex
from dataclasses import dataclass

from axis.drivers.facts.models import EnforcementMode
from axis.drivers.shell_files import read_shell_file

#: The runner's text, without its shellcheck directive line.
RUNNER = read_shell_file("axis.drivers.jobs", "runner.sh")

_JOB_ID = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?-[0-9a-f]{12}")

#: Creates the job's directory (refusing one that exists: ids are never reused), saves the
#: runner from stdin and runs it.
_START = ('umask 077 && mkdir -p "$HOME/.axis/jobs" && d="$HOME/.axis/jobs/$1" && mkdir "$d" '
          '&& cat > "$d/runner.sh" && shift && exec sh "$d/runner.sh" start "$d" "$@"')

#: Every script but the start begins here: the job's directory `d`, its process group `g` (empty
#: when unknown), and `alive`, whether that group has a process left. The group is asked whether
#: or not `exit` is written: the runner writes it once the group is gone, and the job, running as
#: the user owning these files, could write it itself.
_PRELUDE = r"""d="$HOME/.axis/jobs/$1"
g=; [ -r "$d/pgid" ] && IFS= read -r g < "$d/pgid"
case $g in ''|*[!0-9]*) g= ;; *) [ "$g" -gt 0 ] || g= ;; esac
alive() { [ -n "$g" ] && kill -s 0 -- "-$g" 2>/dev/null; }
"""

#: Prints the job's facts as `name=value` lines (first line of each file only), `running=1|0`
#: first; a unit's `systemctl show` properties as `unit.Name=value` and its cgroup's
#: memory.events as `events.name=value`. A job whose process group is gone but whose `exit`
#: is not yet written gets one second to write it (the runner writes it right after its group
#: ended), and a group not made yet (the job's first instant) one second to appear.
_STATE = _PRELUDE + r'''[ -d "$d" ] || { echo missing=1; exit 0; }
if alive; then echo running=1; else [ -f "$d/exit" ] || sleep 1; alive && echo running=1 || echo running=0; fi
for f in exit oom enforcement cap pgid unit started ended; do
  [ -r "$d/$f" ] || continue
  v=; IFS= read -r v < "$d/$f"; printf '%s=%s\n' "$f" "$v"
done
u=; [ -r "$d/unit" ] && IFS= read -r u < "$d/unit"
case $u in
  axis-job-*.scope|axis-job-*.service)
    command -v systemctl >/dev/null 2>&1 || exit 0
    systemctl show -p Result -p ActiveState -p MemoryMax -p ControlGroup "$u" 2>/dev/null | sed 's/^/unit./'
    cg=$(systemctl show -p ControlGroup --value "$u" 2>/dev/null)
    [ -n "$cg" ] && [ -r "/sys/fs/cgroup$cg/memory.events" ] && sed 's/^\([a-z_]*\) /events.\1=/' "/sys/fs/cgroup$cg/memory.events"
    ;;
esac
exit 0'''

#: TERM to the job's process group, KILL after 5 s; `exit` 143 and `ended` written when the
#: runner could not write them (a unit stopped with the runner inside). A job whose `exit` is
#: written has ended: nothing is signalled, since its group id may be another group's by now.
_STOP = _PRELUDE + r'''[ -d "$d" ] || { echo "no job $1 on this host" >&2; exit 1; }
[ -f "$d/exit" ] && exit 0
[ -n "$g" ] || { echo "job $1 has no process group" >&2; exit 1; }
kill -s TERM -- "-$g" 2>/dev/null
n=0; while [ "$n" -lt 20 ] && alive; do sleep 0.25; n=$((n + 1)); done
kill -s KILL -- "-$g" 2>/dev/null
n=0; while [ "$n" -lt 8 ] && [ ! -f "$d/exit" ]; do sleep 0.25; n=$((n + 1)); done
[ -f "$d/exit" ] || { echo 143 > "$d/exit"; date +%s > "$d/ended"; }
exit 0'''

#: The log, whole; following (`$2` = 1) it while the job runs: its group alive or its service
#: active (a runner killed with its job writes no `exit`, so `exit` is not waited for).
_LOGS = _PRELUDE + r'''[ -r "$d/log" ] || { echo "job $1 has no log on this host" >&2; exit 1; }
[ "$2" = 1 ] || exec cat "$d/log"
runs() {
  alive && return 0
  u=; [ -r "$d/unit" ] && IFS= read -r u < "$d/unit"
  case $u in axis-job-*.service) [ "$(systemctl is-active "$u" 2>/dev/null)" = active ] ;; *) return 1 ;; esac
}
tail -n +1 -f "$d/log" & t=$!
while runs || { [ ! -f "$d/exit" ] && sleep 1 && runs; }; do sleep 1; done
sleep 1; kill "$t" 2>/dev/null; wait "$t" 2>/dev/null
exit 0'''

#: Removes an ended job's directory (a job whose group still has a process is refused), and
#: resets its failed service unit: a detached unit is not collected when it fails, so that
#: `Result=oom-kill` can be read after the kernel killed the runner with the job (a unit exists
#: only where root or `sudo -n` started it; `$2` = 1: the host's spec allows `sudo -n`).
_FORGET = _PRELUDE + r'''[ -d "$d" ] || exit 0
if alive; then echo "job $1 is still running" >&2; exit 1; fi
u=; [ -r "$d/unit" ] && IFS= read -r u < "$d/unit"
case $u in
  axis-job-*.service)
    if [ "$(id -u)" = 0 ]; then systemctl reset-failed "$u"; elif [ "$2" = 1 ]; then sudo -n systemctl reset-failed "$u"; fi >/dev/null 2>&1 ;;
esac
rm -rf -- "$d"'''


@dataclass(frozen=True)
class Job:
    """One job: its id (`<claim>-<12 hex>`, also the name of its directory and unit) and line."""

    id: str
    line: str

    @classmethod
    def new(cls, claim: str, line: str) -> Job:
        """A job with a fresh id for `claim` (a DNS-1123 label, as every claim name is)."""
        return cls(f"{claim}-{secrets.token_hex(6)}", line)

    def __post_init__(self) -> None:
        _check_id(self.id)


def _check_id(job_id: str) -> None:
    if not _JOB_ID.fullmatch(job_id):
        raise ValueError(f"not a job id: {job_id!r}")


def _sh(script: str, *args: str) -> str:
    return " ".join(["sh", "-c", shlex.quote(script), "axis-job", *(shlex.quote(a) for a in args)])


def runner_command(job: Job, *, cap: int, mode: EnforcementMode, detach: bool, sudo: bool = False,
                   strict: bool = False) -> tuple[str, str]:
    """The command line and stdin that start `job` capped at `cap` bytes (0: uncapped) in `mode`
    (what the host's facts said; the runner checks it again and falls back, recording why).
    `sudo`: the host's spec allows `sudo -n` (systemd-run needs root). `strict`: the claim
    requires cgroup enforcement: where the runner finds no cgroup cap in force it refuses the job
    (125, `enforcement` says why) instead of falling back to the watchdog. Foreground: the command
    runs as long as the job, its output is the job's, its exit status the job's (125 when the
    runner refused to start it: read `enforcement`). Detached: returns once the job has started."""
    if cap < 0:
        raise ValueError(f"a cap is a number of bytes, not {cap}")
    flags = ("1" if detach else "0", "1" if sudo else "0", "1" if strict else "0")
    return _sh(_START, job.id, str(cap), mode, *flags, job.line), RUNNER


def job_state_command(job_id: str) -> str:
    """The command whose output `parse_job_state` reads."""
    _check_id(job_id)
    return _sh(_STATE, job_id)


#: `_STATE` for every job id given after it, each block headed `job=<id>` (no line of `_STATE`
#: can begin so: it prints the first line of a file after a fixed name, never `job`).
_EACH_STATE = 'state=$1; shift; for j; do printf "job=%s\\n" "$j"; sh -c "$state" axis-job "$j"; done'


def jobs_state_command(job_ids: list[str]) -> str:
    """One command for the state of every job of a host (the controller's jobs pass: one round
    trip per host); `split_job_states` cuts its output into what `parse_job_state` reads."""
    for job_id in job_ids:
        _check_id(job_id)
    return _sh(_EACH_STATE, _STATE, *job_ids)


def split_job_states(text: str) -> dict[str, str]:
    """`jobs_state_command`'s output → job id → its `_STATE` lines (a job with no block is absent)."""
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.split("\n"):
        if line.startswith("job=") and _JOB_ID.fullmatch(line[4:]):
            current = blocks.setdefault(line[4:], [])
        elif current is not None:
            current.append(line)
    return {job_id: "\n".join(lines).rstrip("\n") for job_id, lines in blocks.items()}


def stop_command(job_id: str) -> str:
    """The command that stops a job: TERM to its process group, KILL after 5 s."""
    _check_id(job_id)
    return _sh(_STOP, job_id)


def logs_command(job_id: str, follow: bool) -> str:
    """The command that prints a detached job's log; `follow`: while the job runs."""
    _check_id(job_id)
    return _sh(_LOGS, job_id, "1" if follow else "0")


def forget_command(job_id: str, *, sudo: bool = False) -> str:
    """The command that removes an ended job's directory and resets its failed unit (a running
    job is refused, exit 1; a job already gone is no error). `sudo`: the host's spec allows
    `sudo -n`, which a login that is not root needs to reset a unit; without it no `sudo` runs."""
    _check_id(job_id)
    return _sh(_FORGET, job_id, "1" if sudo else "0")
