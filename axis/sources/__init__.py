"""Sources: where desired state comes from besides a directory — a git remote the controller
follows (`GitMirror` over a `GitRemote`). A layer beside drivers and state: it runs git, and
knows nothing of hosts or the state DB; the reconcile loop decides what a revision means.
"""

from axis.sources.git import GitError, GitMirror, GitRemote

__all__ = ["GitError", "GitMirror", "GitRemote"]
