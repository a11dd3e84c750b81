"""axis: a declarative reconciler for a small fleet of machines reached over SSH."""

__version__ = "0.1.0"
