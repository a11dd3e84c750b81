"""Dry-run outcomes as `axis diff` gets them, built by hand: one host of every plan status, for the
plan document's and its markdown's tests."""

from __future__ import annotations

from axis.drivers.features import Command, Plan, RemoveFile, Step, WriteFile
from axis.drivers.transport import ErrorKind, TransportError
from axis.reconcile.apply_pass import Applied, Stored
from axis.reconcile.converge import FeatureOutcome, HostOutcome
from axis.reconcile.observe import to_observation
from axis.state.objects import Change

PANIC = "/etc/sysctl.d/60-axis-recovery.conf"
PANIC_DIFF = f"--- {PANIC}\n+++ {PANIC}\n@@ -1,2 +1,2 @@\n # managed by axis\n-kernel.panic = 5\n+kernel.panic = 7"


def pending_host(name: str = "ubu-1", diff: str = PANIC_DIFF, reason_words: str = "") -> HostOutcome:
    """Two steps to run (a file change with its diff, a live command), a live step the host
    refused earlier, and a feature that does not apply to the host's OS."""
    write = Step("~", f"update {PANIC} (kernel.panic = 7)", WriteFile(PANIC, b"x"), detail=diff)
    live = Step("+", "apply kernel.panic", Command("sysctl -p " + PANIC), live=True)
    refused = Step("-", "remove /swapfile", RemoveFile("/swapfile"))
    features = [
        FeatureOutcome("panicRecovery", "pending", Plan("panicRecovery", steps=[write, live]), message="2 step(s) to run"),
        FeatureOutcome("swapfile", "refused", Plan("swapfile", skipped=[(refused, "swapoff: Operation not permitted")]),
                       message="files in place; the host refused `/swapfile`: swapoff: Operation not permitted"),
        FeatureOutcome("noSleep", "not-applicable", Plan("noSleep", applicable=False, notes=["macOS only"]),
                       message="macOS only"),
    ]
    return HostOutcome(name, "pending", reason_words, features)


def in_sync_host(name: str = "ubu-2") -> HostOutcome:
    return HostOutcome(name, "unchanged", "", [FeatureOutcome("earlyoom", "in-sync", Plan("earlyoom"))])


def down_host(name: str = "ubu-3", kind: ErrorKind = ErrorKind.UNREACHABLE,
              detail: str = "connection refused") -> HostOutcome:
    err = TransportError(kind, name, detail)
    return HostOutcome(name, "failed", str(err), observation=to_observation(name, None, err))


def dry_run(outcomes: list[HostOutcome], warnings: list[str] | None = None) -> Applied:
    changes = [Change("Host", o.host, "created", 1, "/specs") for o in outcomes]
    return Applied(Stored(dry_run=True, changes=changes, warnings=warnings or [], work=[], tools=[]), outcomes)
