"""axis's interfaces for programs: the local HTTP API (`axis serve`) and the read-only MCP
server (`axis mcp serve`). A peer of `axis.cli` at the end of the one-way data flow: both read
and act through the same state, reconciler and view code as the commands people type."""
