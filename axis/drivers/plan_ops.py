"""The marks a plan shows for each change: `+` create, `~` change, `-` remove. Shared by the
feature drivers that plan (`axis.drivers.features.base`) and the documents that show plans
(`axis.app.documents`), which import it without loading every feature driver."""

from __future__ import annotations

from typing import Literal

Op = Literal["+", "~", "-"]
