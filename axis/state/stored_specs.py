"""Rebuilding a stored object's spec model from its row, and the error for one that no longer
validates: shared by the ORM's rows (`axis.state.tables.DesiredObject`) and the plain ones the
reading commands get (`axis.state.snapshot.ObjectRow`), so both are judged by one rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import ValidationError

from axis.specs import API_VERSION, Claim, Host, HostProfile, Kind
from axis.specs.errors import field_path, problem_text
from axis.state.errors import StateError

if TYPE_CHECKING:
    from axis.state.snapshot import Snapshot

#: A spec model class: `to_model` returns an instance of the class it is given.
M = TypeVar("M", Host, HostProfile, Claim)


class StoredObject(Protocol):
    """What `to_model` reads of a row: a DesiredObject or a snapshot's ObjectRow."""

    @property
    def kind(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def labels(self) -> dict[str, str]: ...
    @property
    def spec(self) -> dict[str, Any]: ...
    @property
    def source_path(self) -> str: ...
    @property
    def source_line(self) -> int: ...


class StoredSpecInvalid(StateError):
    """A stored object that this axis no longer accepts (stored by an older one, before a bound
    was added, or edited in the DB). It stays that object's problem: lists skip it, views show
    why, and only commands about that object fail, with this message."""


def to_model(row: StoredObject, model: type[M]) -> M:
    """Rebuild the validated spec model of class `model` (the one `row.kind` names) from a stored
    row (the row holds canonical data); StoredSpecInvalid when it no longer validates."""
    try:
        return model.model_validate({
            "apiVersion": API_VERSION, "kind": row.kind,
            "metadata": {"name": row.name, "labels": row.labels}, "spec": row.spec,
        })
    except (ValidationError, TypeError) as exc:
        if isinstance(exc, ValidationError):
            first = exc.errors()[0]
            field, message = field_path(first["loc"]), problem_text(first)
        else:
            field, message = "", str(exc)
        raise StoredSpecInvalid(f"stored {row.kind} {row.name!r} is no longer valid ({field + ': ' if field else ''}"
                                f"{message}); fix it in {row.source_path}:{row.source_line} and apply it "
                                f"again, or `axis delete {row.kind.lower()} {row.name}`") from None


def valid(rows: Iterable[StoredObject], model: type[M]) -> list[M]:
    """The models of the `rows` (of `model`'s kind) that still validate, in the rows' order: one
    invalid object does not stop the others. The ORM's rows and the snapshot's alike."""
    out: list[M] = []
    for row in rows:
        try:
            out.append(to_model(row, model))
        except StoredSpecInvalid:
            continue
    return out


def snapshot_hosts(snap: Snapshot) -> tuple[list[Host], list[HostProfile]]:
    """All stored hosts and profiles that validate, read from a snapshot: what
    `axis.state.objects.desired_hosts` reads through the ORM, for commands that need no SQLAlchemy."""
    return valid(snap.objects(Kind.HOST), Host), valid(snap.objects(Kind.HOST_PROFILE), HostProfile)
