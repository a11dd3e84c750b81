"""Jobs on a host: `axis exec`'s commands run by one shell runner, capped at a claim's memory.

`protocol.py` builds the commands (start, state, stop, logs, forget) around `runner.sh`;
`state.py` reads what the state command prints. Nothing here connects: callers run the commands
through a `Transport`.
"""
