"""Everything that knows a host's shell and nothing about the state DB: transports (SSH), the
`Connector` that opens them, the facts script and its parsers, the feature drivers (probes →
observe → plan → steps as data, run only by `features/execute.py`), and errors-as-values fan-out.
The state DB is a peer (`axis.state`): neither imports the other."""
