"""`axis import pool`: pool's roster (~/.pool/pool.json, or $POOL_STATE) as Hosts, and the
bootstrap `pool init` ran on them as one HostProfile, so that `axis diff` shows what pool did.

pool.json is `{"hosts": [{"name", "ssh", "sudo", "os", "description"}]}`; `ssh` is what pool
passed to ssh: `user@host` (or an ssh:// URI), or an alias of ~/.ssh/config (kept as the address). pool left hosts
out of `on all`, `init` and `clean all` by a substring of their name (`pi5-akida`, built in):
those become `fanout: false` and are not given the profile. pool's `os` becomes the `os` label.
The file is read with the spec loader's YAML reader (JSON is YAML), which knows every key's line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap

from axis.adopt.drafts import Draft, Problem, axis_name, listed_drafts, named
from axis.specs.yaml_nodes import node_line

#: pool's own exclusion: every host whose name contains it (anima-only, @D s8).
POOL_EXCLUDED = ("pi5-akida",)
#: The label that selects the hosts `pool init` bootstrapped, and the profile it selects them for.
INIT_LABEL = "pool-init"
PROFILE = "pool-init"

#: The eight features `pool init` installs, as axis features with pool's settings (pool's names:
#: tailscale, disk-cleanup, no-sleep, persistent-journal, panic-recovery, earlyoom, swapfile,
#: watchdog). Every one has an axis feature; axis writes its own files, not pool's.
INIT_FEATURES: dict[str, dict[str, Any]] = {
    "tailscale": {},
    "diskCleanup": {"retentionDays": 3, "deepAtPercent": 85},
    "noSleep": {},
    "persistentJournal": {},
    "panicRecovery": {"panicSeconds": 10},
    "earlyoom": {},
    "swapfile": {"size": "32G", "swappiness": 10},
    "watchdog": {"timeoutSeconds": 30},
}
_PROFILE_NOTES = [
    "The eight features `pool init` set up, with pool's settings; `axis diff` shows what is missing.",
    "Where axis does it otherwise than pool:",
    "- diskCleanup: axis writes /etc/cron.daily/axis-disk-cleanup; remove pool's",
    "  /etc/cron.daily/disk-cleanup, or both run.",
    "- panicRecovery: axis writes /etc/sysctl.d/60-axis-recovery.conf with vm.panic_on_oom (pool's",
    "  kernel.panic_on_oom is a key Linux does not have). Remove pool's 60-pool-recovery.conf: it",
    "  sorts after axis's file, so at boot its settings win over axis's.",
    "- swapfile: pool made a 32 GB /swapfile-pool where swap was under 30 GB; axis adds a 32G",
    "  /swapfile where the other swap is under 32G, each swap area allowed 1 MiB short (the kernel",
    "  leaves its header page out of SwapTotal): a host with pool's file gets none, and one with",
    "  30 to 32G of swap, which pool left alone, gets axis's.",
    "- tailscale: pool's install.sh added tailscale's apt repository; axis adds none and installs",
    "  the package from the host's own package sources (a host pool set up keeps the repository",
    "  pool added; on a new Debian host the install fails with apt's message). `tailscale up`",
    "  stays manual.",
    "noSleep applies to macOS hosts only, tailscale to Linux and macOS, the other six to Linux only",
    "(axis reports a feature as not applicable on a host of another system).",
]
_KEYS = {"name", "ssh", "sudo", "os", "description"}
_SSH_URI = re.compile(r"ssh://(?:(?P<user>[^@/]+)@)?(?P<host>[^:/]+|\[[^\]/]+\])(?::(?P<port>\d+))?/?")


def default_file() -> Path:
    """Where pool keeps its roster: $POOL_STATE, else ~/.pool/pool.json."""
    return Path(os.environ.get("POOL_STATE") or Path.home() / ".pool" / "pool.json")


def import_pool(path: Path, excluded: Sequence[str] = POOL_EXCLUDED) -> list[Draft]:
    """The Hosts of pool's roster at `path` and the `pool-init` HostProfile; ImportFailed with
    every problem (file:line) when any entry cannot be imported."""
    drafts = listed_drafts(path, "hosts", lambda entry, where, at, problems: _host(entry, where, at, excluded, problems),
                           expected='expected {"hosts": [...]}, as pool writes it', only='pool.json has only "hosts"')
    if any(INIT_LABEL in d.labels for d in drafts):
        drafts.append(Draft("HostProfile", PROFILE, {"selector": {"matchLabels": {INIT_LABEL: "true"}},
                                                     "features": INIT_FEATURES},
                            str(path), 0, notes=list(_PROFILE_NOTES)))
    return drafts


def _target(ssh: str) -> dict[str, Any]:
    """The address, user and port of what pool passed to ssh: `[user@]host`, or an
    `ssh://[user@]host[:port]` URI (OpenSSH reads both)."""
    uri = _SSH_URI.fullmatch(ssh)
    if uri is None:
        user, _, address = ssh.rpartition("@")
        return {"address": address, "user": user} if user else {"address": address}
    target: dict[str, Any] = {"address": uri["host"].strip("[]")}
    if uri["user"]:
        target["user"] = uri["user"]
    if uri["port"]:
        target["port"] = int(uri["port"])
    return target


def _host(entry: Any, where: str, at: int, excluded: Sequence[str], problems: list[Problem]) -> Draft | None:
    if not isinstance(entry, CommentedMap):
        problems.append(Problem(where, at, "a host must be an object with name and ssh"))
        return None
    found = len(problems)

    def text(key: str, required: bool = False) -> str | None:
        value = entry.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            problems.append(Problem(where, node_line(entry, key) if key in entry else at,
                                    "required: a non-empty string" if value is None else "must be a non-empty string",
                                    key))
            return None
        return value

    for key in entry:
        if key not in _KEYS:
            problems.append(Problem(where, node_line(entry, key), f"unknown key (pool knows {', '.join(sorted(_KEYS))})",
                                    str(key)))
    source, ssh, os_name, description = text("name", True), text("ssh", True), text("os"), text("description")
    sudo = entry.get("sudo", False)
    if not isinstance(sudo, bool):
        problems.append(Problem(where, node_line(entry, "sudo"), "must be true or false", "sudo"))
    if source is None or ssh is None or len(problems) > found:
        return None
    try:
        name = axis_name(source)
    except ValueError as exc:
        problems.append(Problem(where, node_line(entry, "name"), str(exc), "name"))
        return None
    spec = _target(ssh)
    spec["sudo"] = bool(sudo)
    if description:
        spec["description"] = description
    labels = {"os": os_name} if os_name else {}
    draft = named(Draft("Host", name, spec, where, at, labels), source)
    hit = next((word for word in excluded if word in source), None)
    if hit is not None:
        spec["fanout"] = False
        draft.notes.append(f"pool left this host out of `on all`, `init` and `clean all` (its name contains {hit!r})")
    else:
        labels[INIT_LABEL] = "true"
    return draft
