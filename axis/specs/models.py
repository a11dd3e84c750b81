"""The spec kinds users write: Host, HostProfile and Claim (apiVersion axis/v1).

Models are strict (unknown fields are errors) so that a typo such as `swapfle:` is reported with
its file and line instead of being silently ignored. Field names follow the YAML (camelCase
aliases); Python code uses snake_case attributes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Final, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from axis.specs.features import Features
from axis.specs.names import DNS_LABEL_RE, check_host_word, check_tool_name
from axis.specs.units import Duration, Size

ApiVersion = Literal["axis/v1"]
#: The one apiVersion of every document axis reads and writes (its text is written only in `ApiVersion`).
API_VERSION: Final[str] = get_args(ApiVersion)[0]


class Kind(StrEnum):
    """The kinds users write in spec files. A StrEnum: a member is its string, so stored rows,
    JSON, YAML keys and printed tables read exactly as the plain strings did. Kinds that are not
    desired objects (a lease, the controller, an event) are named by their own layers."""

    HOST = "Host"
    HOST_PROFILE = "HostProfile"
    CLAIM = "Claim"


KINDS: Final = tuple(Kind)

_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$")


def dns_label(name: str) -> str:
    """`name`, or ValueError when it is not a DNS-1123 label (also a git source's name)."""
    if not DNS_LABEL_RE.fullmatch(name):
        raise ValueError(f"{name!r} is not a DNS-1123 label (lowercase letters, digits and '-', "
                         "starting and ending with a letter or digit, at most 63 characters)")
    return name


def _labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        prefix, _, name = key.rpartition("/")
        if not _LABEL_NAME.fullmatch(name) or (prefix and not _LABEL_PREFIX.fullmatch(prefix)):
            raise ValueError(f"label key {key!r} is invalid: [prefix/]name, name of letters, digits, "
                             "'-', '_' and '.', at most 63 characters")
        if not _LABEL_VALUE.fullmatch(value):
            raise ValueError(f"label value {value!r} of {key!r} is invalid: letters, digits, '-', '_' "
                             "and '.', at most 63 characters")
    return labels


Name = Annotated[str, AfterValidator(dns_label)]
ToolName = Annotated[str, AfterValidator(check_tool_name)]
Labels = Annotated[dict[str, str], AfterValidator(_labels)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Metadata(_Strict):
    name: Name
    labels: Labels = Field(default_factory=dict)


class Selector(_Strict):
    match_labels: Labels = Field(default_factory=dict, alias="matchLabels")

    def matches(self, labels: dict[str, str]) -> bool:
        """Every listed label must be present with the same value; an empty selector matches all."""
        return all(labels.get(k) == v for k, v in self.match_labels.items())


class HostSpec(_Strict):
    address: str = Field(min_length=1, description="IP, hostname, or an alias in ~/.ssh/config")
    user: str | None = Field(default=None, description="login user; ~/.ssh/config and defaults apply when unset")
    port: int | None = Field(default=None, ge=1, le=65535)
    sudo: bool = Field(default=False, description="prefix privileged steps with `sudo -n` when the user is not root")
    description: str = ""
    fanout: bool = Field(default=True, description="false: left out of `all` fan-outs, `clean all` and placement")
    features: Features = Field(default_factory=Features)

    @field_validator("address", "user")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        """Both are arguments of ssh (and the user a name on the host)."""
        return value if value is None else check_host_word(value, "one printable word that does not start with '-'")


class HostProfileSpec(_Strict):
    selector: Selector = Field(default_factory=Selector)
    features: Features = Field(default_factory=Features)


class Requirements(_Strict):
    tools: list[ToolName] = Field(default_factory=list)
    memory: Size | None = None
    gpu: bool | None = None
    os: Literal["linux", "macos"] | None = None
    enforcement: Literal["cgroup", "any"] = Field(
        default="any", description="how the job's memory cap must be enforced: `cgroup` only places the claim on "
                                   "hosts where the kernel enforces it (systemd + cgroup v2 memory controller); "
                                   "`any` also accepts axis's watchdog")


class ClaimSpec(_Strict):
    task: str = Field(min_length=1, description="free text; requirements are inferred from its keywords")
    requires: Requirements = Field(default_factory=Requirements)
    selector: Selector = Field(default_factory=Selector)
    ttl: Duration = Field(default=45 * 60, description="lease time to live, renewed by `axis exec`/`axis renew`")

    @field_validator("task")
    @classmethod
    def _says_something(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must say what the task does, not only spaces")
        return value


class _Object(_Strict):
    api_version: ApiVersion = Field(alias="apiVersion")
    metadata: Metadata


class Host(_Object):
    kind: Literal[Kind.HOST]
    spec: HostSpec


class HostProfile(_Object):
    kind: Literal[Kind.HOST_PROFILE]
    spec: HostProfileSpec


class Claim(_Object):
    kind: Literal[Kind.CLAIM]
    spec: ClaimSpec


SpecObject = Host | HostProfile | Claim
MODELS: dict[Kind, type[Host] | type[HostProfile] | type[Claim]] = {
    Kind.HOST: Host, Kind.HOST_PROFILE: HostProfile, Kind.CLAIM: Claim,
}


@dataclass(frozen=True)
class Loaded:
    """A validated object and where it came from."""

    obj: SpecObject
    path: str
    line: int
    apply_set: str  # the -f argument it was loaded through, resolved; `--prune` works per set

    @property
    def key(self) -> tuple[str, str]:
        return (self.obj.kind, self.obj.metadata.name)

    @property
    def source(self) -> str:
        return f"{self.path}:{self.line}"
