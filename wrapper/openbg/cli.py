"""The ``openbg`` command line."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="openbg")
def main() -> None:
    """openbg — remove.bg API client, and a self-hosted emulator with real background removal."""


def _add_emulator_commands() -> None:
    try:
        from openbg_emulator import cli as engine_cli
    except ImportError:  # the emulator extra is not installed
        return
    for name in ("models", "eval", "sheet"):
        cmd = getattr(engine_cli, name, None)
        if isinstance(cmd, click.Command):
            main.add_command(cmd, name)
    try:
        from openbg_emulator import server_cli
    except ImportError:
        return
    for name in ("serve", "keys"):
        cmd = getattr(server_cli, name, None)
        if isinstance(cmd, click.Command):
            main.add_command(cmd, name)


_add_emulator_commands()
