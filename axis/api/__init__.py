"""axis's interfaces for programs: the local HTTP API (`axis serve`) and the read-only MCP
server (`axis mcp serve`). A peer of `axis.cli` over `axis.app`: both read and act through the
same documents and operations, and neither imports the other (the composition root, `axis.main`,
hands these servers to the command line)."""
