"""Archon: a self-hosted knowledge engine and command centre for AI coding assistants."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("archon")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
