"""openbg: a typed client for the remove.bg API v1.0 (and the openbg emulator)."""

__version__ = "0.1.0"
