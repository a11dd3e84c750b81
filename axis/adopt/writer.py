"""Drafts as commented YAML, proven by the loader `axis apply` uses, then written, each file whole.

Each object gets its own file, `<kind>-<name>.yaml` (`host-ubu-1.yaml`,
`hostprofile-pool-init.yaml`): one object per file keeps a later edit's diff to its host, and the
kind in the name keeps a Host and a HostProfile of one name apart. The files are first loaded
from a temporary directory exactly as `axis apply -f` would load them; only when every object
loads, no file would be overwritten without `--force` and no object is already defined in the
output directory are they written, each to a hidden directory inside the output directory, then
renamed into place one by one (a rename on one file system: a file is whole or absent, never
half-written). Every file is written before the first rename, so a full disk or a refused write
leaves the output directory as it was; only a rename that fails midway (the directory changed
under the import) leaves the files renamed before it, and the error names them (`written`).
"""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap

from axis.adopt.drafts import Draft, ImportFailed, Problem
from axis.specs.errors import SpecError, SpecErrors
from axis.specs.loader import load_specs, spec_files

#: Mappings short enough to read on one line, as the examples write them (`{role: worker}`).
_FLOW_KEYS = ("labels", "matchLabels")


def file_name(draft: Draft) -> str:
    """The file a draft is written to inside the output directory."""
    return f"{draft.kind.lower()}-{draft.name}.yaml"


def render(draft: Draft) -> str:
    """One draft as a YAML document: a comment saying where it came from and the draft's notes,
    then the object."""
    doc = _commented(draft.document(), None)
    lines = [f"imported from {draft.origin}", *draft.notes]
    doc.yaml_set_start_comment("\n".join(lines))
    out = io.StringIO()
    yaml = YAML(typ="rt")
    yaml.width = 4096  # a long description stays one line, as it was in the source
    yaml.dump(doc, out)
    return out.getvalue()


def _commented(value: Any, key: str | None, parent: str | None = None) -> Any:
    """Plain dicts as ruamel maps; labels and each feature's settings in flow style."""
    if not isinstance(value, dict):
        return value
    out = CommentedMap((k, _commented(v, k, key)) for k, v in value.items())
    if key in _FLOW_KEYS or parent == "features":
        out.fa.set_flow_style()
    return out


def stream(drafts: Iterable[Draft]) -> str:
    """All drafts as one multi-document YAML text (what `--stdout` prints)."""
    return "---\n".join(render(d) for d in drafts)


def check(drafts: list[Draft]) -> None:
    """Load the rendered drafts with the spec loader; ImportFailed with its errors if any fails."""
    _prove(drafts, [render(d) for d in drafts])


def write(drafts: list[Draft], out: Path, *, force: bool) -> list[Path]:
    """Write every draft to its file in `out` (made if missing). ImportFailed, before any file is
    written, when a file exists (without `force`), an object would be loaded twice beside the specs
    already in `out`, the loader refuses one, or `out` cannot be written; when a rename fails
    midway, ImportFailed with the files renamed before it as its `written`."""
    targets = [out / file_name(d) for d in drafts]
    taken = [t for t in targets if t.exists() or t.is_symlink()]
    if any(t.is_dir() for t in taken):  # a rename cannot replace it: found now, before any file moves
        raise ImportFailed([Problem(str(t), 0, "is a directory; move it away") for t in taken if t.is_dir()])
    if taken and not force:
        raise ImportFailed([Problem(str(t), 0, "exists; pass --force to overwrite it") for t in taken])
    texts = [render(d) for d in drafts]
    _prove(drafts, texts)
    _clashes(drafts, out, set(targets))
    renamed: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".axis-import-", dir=out))  # beside the targets: one file system
        try:
            staged = [scratch / target.name for target in targets]
            for path, text in zip(staged, texts, strict=True):
                path.write_text(text, encoding="utf-8")
            for path, target in zip(staged, targets, strict=True):
                path.replace(target)
                renamed.append(target)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    except OSError as exc:
        raise ImportFailed([Problem(str(exc.filename or out), 0, f"cannot write: {exc.strerror or exc}")],
                           written=renamed) from None
    return targets


def _prove(drafts: list[Draft], texts: list[str]) -> None:
    """Load the drafts' texts from a temporary directory as `axis apply -f` would. A refusal (a
    value the source allowed and axis does not, such as a label with a space) is reported at the
    source line the object came from."""
    with tempfile.TemporaryDirectory(prefix="axis-import-") as scratch:
        staged = {}
        for draft, text in zip(drafts, texts, strict=True):
            (Path(scratch) / file_name(draft)).write_text(text, encoding="utf-8")
            staged[file_name(draft)] = draft
        try:
            load_specs([scratch])
        except SpecErrors as exc:
            raise ImportFailed([_refused(e, staged.get(Path(e.path).name)) for e in exc.errors]) from None


def _refused(error: SpecError, draft: Draft | None) -> Problem:
    what = f"{error.field}: {error.message}" if error.field else error.message
    if draft is None:
        return Problem(error.path, error.line, what)
    return Problem(draft.path, draft.line, f"axis refuses the {draft.kind} {draft.name!r} made from here: {what}")


def _clashes(drafts: list[Draft], out: Path, replaced: set[Path]) -> None:
    """An object that the specs already in `out` define in another file would be loaded twice by
    `axis apply -f OUT`: say where. Each file there is loaded on its own, so that one which does not
    load (left to `axis apply` to report) hides no other file's objects; in such a file itself no
    object is seen."""
    if not out.is_dir():
        return
    new = {(d.kind, d.name): d for d in drafts}
    problems = []
    for file in spec_files(out):
        if file in replaced:
            continue
        try:
            existing = load_specs([file])
        except SpecErrors:
            continue
        problems += [Problem(item.path, item.line, f"{item.obj.kind} {item.obj.metadata.name!r} is already defined "
                             f"here; the import from {new[item.key].origin} would define it twice")
                     for item in existing if item.key in new]
    if problems:
        raise ImportFailed(problems)
