"""`axis clean`'s host half: run the diskCleanup script on one host now and judge its report.

Each host gets the very script the diskCleanup feature installs as its daily cron job
(`axis.drivers.features.cleanup_script`), with that host's effective diskCleanup settings (the
defaults when it has none). A host that fails (unreachable, sudo wants a password, a step
refused) fails alone, as a value with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from axis.drivers.connector import Connector, with_connection
from axis.drivers.features.cleanup_script import CleanReport, run_clean
from axis.drivers.transport import RunResult, TransportError
from axis.specs import Host, HostProfile, effective_features
from axis.specs.features import DiskCleanupSettings


@dataclass
class HostClean:
    host: str
    settings: DiskCleanupSettings
    status: str = "ok"                 # ok | partial | failed | n/a
    reason: str = ""
    report: CleanReport = field(default_factory=CleanReport)

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "partial")


def host_settings(host: Host, profiles: list[HostProfile]) -> DiskCleanupSettings:
    """The host's effective diskCleanup settings, else the defaults (also when it is `false`)."""
    feature = effective_features(host, profiles).get("diskCleanup")
    if feature is not None and isinstance(feature.settings, DiskCleanupSettings):
        return feature.settings
    return DiskCleanupSettings()


def judge(name: str, settings: DiskCleanupSettings, report: CleanReport, result: RunResult) -> HostClean:
    """A host's status from what the script printed and how it exited."""
    if report.not_applicable:
        return HostClean(name, settings, "n/a", f"not applicable on {report.not_applicable}", report)
    if not report.complete:
        why = "; ".join(report.errors) or result.stderr_tail() or "no report"
        return HostClean(name, settings, "failed", f"exit {result.exit_status}: {why}", report)
    if report.errors or result.exit_status:
        return HostClean(name, settings, "partial", "; ".join(report.errors) or f"exit {result.exit_status}", report)
    return HostClean(name, settings, "ok", "", report)


async def clean_host(host: Host, connector: Connector, settings: DiskCleanupSettings, *, deep: bool, dry_run: bool,
                     deadline: float) -> HostClean:
    """Connect, run the clean-up script until `deadline` (loop clock), close; never raises."""
    name = host.metadata.name
    try:
        report, result = await with_connection(
            host, connector, deadline, lambda t, left: run_clean(t, settings, deep=deep, dry_run=dry_run, timeout=left),
            grace=1.0)
    except TimeoutError:
        return HostClean(name, settings, "failed", "timed out")
    except TransportError as exc:
        return HostClean(name, settings, "failed", f"{exc.kind}: {exc.detail}")
    return judge(name, settings, report, result)
