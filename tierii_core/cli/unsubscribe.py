"""``tierii unsubscribe serve``: the one-click unsubscribe endpoint."""

from __future__ import annotations

import sys

import click

from tierii_core.errors import ConfigurationError
from tierii_core.settings import CoreSettings


@click.group()
def unsubscribe() -> None:
    """The one-click unsubscribe endpoint (RFC 8058) for TIERII_UNSUBSCRIBE_URL."""


@unsubscribe.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535), help="Port.")
def unsubscribe_serve(host: str, port: int) -> None:
    """Serve the unsubscribe endpoint: GET shows a confirmation page, POST unsubscribes.

    Put it behind your https reverse proxy at the path of TIERII_UNSUBSCRIBE_URL.
    """
    from tierii_core.cli.context import settings_reader
    from tierii_core.unsubscribe import UnsubscribeLinks
    from tierii_core.unsubscribe_server import serve

    core = settings_reader().load(CoreSettings)
    if not core.unsubscribe_url:
        raise ConfigurationError("TIERII_UNSUBSCRIBE_URL is not set: it says where the endpoint is published")
    links = UnsubscribeLinks(core.unsubscribe_url, core.unsubscribe_secret)
    click.echo(
        f"unsubscribe endpoint for {core.unsubscribe_url} on http://{host}:{port}{links.path}", err=True
    )
    from tierii_core.state import state_location

    # ConfigurationError when it cannot listen
    serve(links, state_location(core), host=host, port=port)
    sys.exit(0)


#: the commands this module adds to ``tierii``
COMMANDS = [unsubscribe]
