"""The kinds (and the controller's one name) under which the state DB keeps events and
conditions of what is not a desired object: the controller and the git sources. Apart from the
code that writes them, so that `axis get`/`describe` resolve their words without importing it."""

from __future__ import annotations

#: The controller's events and conditions: one object, `Controller/controller`.
CONTROLLER_KIND, CONTROLLER_NAME = "Controller", "controller"
#: A git source's (`axis.state.sources`).
SOURCE_KIND = "Source"
