"""``tierii ses ...``: commands this plugin adds to ``tierii``.

Every ``tierii`` invocation builds these (the ``tierii_register_commands`` hook), so this
module imports nothing but click; the server, its settings and the web stack are imported
inside the command that runs them.
"""

from __future__ import annotations

from typing import Any

import click


def _path(_: click.Context, __: click.Parameter, value: str) -> str:
    if not value.startswith("/") or any(c.isspace() or c in "?#{}" for c in value):
        raise click.BadParameter("expected a URL path starting with '/', without spaces, '?', '#' or braces")
    return value


@click.group()
def ses() -> None:
    """Amazon SES tools (tierii-ses)."""


@ses.group()
def notifications() -> None:
    """SES bounce and complaint notifications, delivered by Amazon SNS over HTTP(S)."""


@notifications.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8027, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one)."
)
@click.option(
    "--path", default="/notifications/ses", show_default=True, callback=_path, help="URL path it answers on."
)
@click.option("--log-json", is_flag=True, default=None, help="Log JSON lines (default when not a terminal).")
def serve(host: str, port: int, path: str, log_json: bool | None) -> None:
    """Serve the SNS endpoint: confirms subscriptions, suppresses bounces and complaints.

    \b
    Each message's SNS signature is verified (certificate from sns.<region>.amazonaws.com
    only); a forged one is refused (401). Permanent bounces and complaints put the
    recipients on the suppression list (source ses-notification); transient bounces
    and other events are acknowledged and ignored. TIERII_SES_NOTIFICATION_TOPICS
    limits the topics accepted. Publish it through your https reverse proxy and
    subscribe that URL to the SNS topic of your SES identity or configuration set.
    """
    from tierii_core.errors import ConfigurationError
    from tierii_core.logs import configure_logging
    from tierii_core.settings import CoreSettings, SettingsReader
    from tierii_ses.notification_server import serve as serve_endpoint
    from tierii_ses.provider import SesProvider
    from tierii_ses.settings import topic_list

    configure_logging(json=log_json)
    reader = SettingsReader()
    core = reader.load(CoreSettings)
    settings = reader.load(SesProvider.Settings, "ses")
    topics = topic_list(settings.notification_topics)
    if not serve_endpoint(_state(core), topics, host=host, port=port, path=path):
        raise ConfigurationError(f"could not listen on {host}:{port} (the reason is logged above)")


def _state(core: Any) -> Any:
    """Where the state is: TIERII_STATE_URL or TIERII_STATE_DIR (a core from before the URL:
    the directory)."""
    try:
        from tierii_core.state import state_location
    except ImportError:
        return core.state_dir
    return state_location(core)
