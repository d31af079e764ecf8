"""Wheel build hook: bundle the built dashboard (archon-ui-main/dist) when there is one.

`archon serve` finds it at archon/frontend/dist inside an installed wheel. A static force-include
would fail the build when the dashboard has not been built, so this hook adds it only if present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class DashboardBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    """Add ../archon-ui-main/dist as archon/frontend/dist to non-editable wheels."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Called by hatchling before the wheel is built."""
        if self.target_name != "wheel" or version == "editable":
            return  # an editable install reads the dashboard from the source checkout
        dist = Path(self.root).parent / "archon-ui-main" / "dist"
        if (dist / "index.html").is_file():
            build_data["force_include"][str(dist)] = "archon/frontend/dist"
