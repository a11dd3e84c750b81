"""The one exception fact parsers raise: a fact is absent, and here is why."""


class FactMissing(Exception):
    """Raised by a parser when its fact cannot be determined; ``str(exc)`` is the reason."""
