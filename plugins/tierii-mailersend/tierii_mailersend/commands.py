"""``tierii mailersend ...``: commands this plugin adds to ``tierii``.

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
def mailersend() -> None:
    """MailerSend tools (tierii-mailersend)."""


@mailersend.group()
def webhooks() -> None:
    """MailerSend webhooks: suppress hard bounces, spam complaints and unsubscribes."""


@webhooks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8026, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one)."
)
@click.option(
    "--path",
    default="/webhooks/mailersend",
    show_default=True,
    callback=_path,
    help="URL path the endpoint answers on.",
)
@click.option("--log-json", is_flag=True, default=None, help="Log JSON lines (default when not a terminal).")
def serve(host: str, port: int, path: str, log_json: bool | None) -> None:
    """Serve the webhook endpoint: POSTs signed with TIERII_MAILERSEND_WEBHOOK_SECRET.

    \b
    activity.hard_bounced, activity.spam_complaint and activity.unsubscribed
    put the recipient on the suppression list (source mailersend-webhook);
    other events are acknowledged and ignored; a bad signature is refused (401).
    Put it behind your https reverse proxy, and give MailerSend the public URL.
    """
    from tierii_core.errors import ConfigurationError
    from tierii_core.logs import configure_logging
    from tierii_core.settings import CoreSettings, SettingsReader
    from tierii_mailersend.provider import MailerSendProvider
    from tierii_mailersend.webhook_server import serve as serve_endpoint

    configure_logging(json=log_json)
    reader = SettingsReader()
    core = reader.load(CoreSettings)
    settings = reader.load(MailerSendProvider.Settings, "mailersend")
    if not serve_endpoint(settings.webhook_secret, _state(core), host=host, port=port, path=path):
        raise ConfigurationError(f"could not listen on {host}:{port} (the reason is logged above)")


def _state(core: Any) -> Any:
    """Where the state is: TIERII_STATE_URL or TIERII_STATE_DIR (a core from before the URL:
    the directory)."""
    try:
        from tierii_core.state import state_location
    except ImportError:
        return core.state_dir
    return state_location(core)
