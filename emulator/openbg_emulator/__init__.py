"""openbg emulator: a self-hosted server for the remove.bg API v1.0 with real background removal."""

__version__ = "0.1.0"
