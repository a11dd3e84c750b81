"""`-l` label selectors as kubectl takes them: `role=worker,gpu!=none,arch`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelSelector:
    terms: tuple[tuple[str, str, str | None], ...]  # (key, op, value); op is =, != or exists

    @classmethod
    def parse(cls, text: str | None) -> LabelSelector:
        terms: list[tuple[str, str, str | None]] = []
        for raw in (text or "").split(","):
            part = raw.strip()
            if not part:
                continue
            if "!=" in part:
                key, value = part.split("!=", 1)
                terms.append((key.strip(), "!=", value.strip()))
            elif "=" in part:
                key, value = part.split("==", 1) if "==" in part else part.split("=", 1)
                terms.append((key.strip(), "=", value.strip()))
            else:
                terms.append((part.removeprefix("!"), "absent" if part.startswith("!") else "exists", None))
            if not terms[-1][0]:
                raise ValueError(f"invalid label selector {text!r}: empty key in {part!r}")
        return cls(tuple(terms))

    def matches(self, labels: dict[str, str]) -> bool:
        for key, op, value in self.terms:
            if op == "=" and labels.get(key) != value:
                return False
            if op == "!=" and labels.get(key) == value:
                return False
            if op == "exists" and key not in labels:
                return False
            if op == "absent" and key in labels:
                return False
        return True
