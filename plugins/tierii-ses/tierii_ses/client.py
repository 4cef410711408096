"""boto3's SESv2 (and, for the send quota, SES v1) clients, built the way TierII needs them.

boto3 costs a few hundred milliseconds to import: only this module imports it, and only the
provider's ``open()`` and ``check()`` (and the benchmark) import this module.

botocore's own retries are off (one attempt per call): TierII retries transient errors itself,
and a retry botocore made after a lost answer could send a message twice.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from tierii_core.errors import ConfigurationError
from tierii_ses.settings import SesSettings

SERVICE_V2 = "sesv2"
SERVICE_V1 = "ses"


class Clients(NamedTuple):
    v2: Any  # SESv2: SendEmail, GetAccount, identities
    v1: Any  # SES v1: GetSendQuota only
    key_hint: str  # the access key's first and last four characters, for `tierii check`
    key_source: str  # where boto3's chain found it: env, shared-credentials-file, iam-role...

    def close(self) -> None:
        self.v2.close()
        self.v1.close()


def make_clients(settings: SesSettings) -> Clients:
    """The SESv2 client (sending, GetAccount) and the SES v1 client (GetSendQuota), sharing one
    boto3 session. Raise :class:`ConfigurationError` when no region or no credentials are found."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, NoRegionError

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=min(settings.timeout, 10.0),
        read_timeout=settings.timeout,
        max_pool_connections=settings.connections,
        user_agent_appid="tierii",
    )
    try:
        session = boto3.session.Session(region_name=settings.region or None)
        credentials = session.get_credentials()
        if credentials is None:
            raise ConfigurationError(
                "the ses provider found no AWS credentials: boto3 looks in AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/credentials, SSO and instance roles"
            )
        v2 = session.client(SERVICE_V2, config=config)
        v1 = session.client(SERVICE_V1, config=config)
    except NoRegionError:
        raise ConfigurationError(
            "the ses provider needs a region: set TIERII_SES_REGION (or AWS_REGION)"
        ) from None
    except BotoCoreError as exc:  # a broken ~/.aws/config, an unknown profile...
        raise ConfigurationError(f"the ses provider cannot set up boto3: {exc}") from None
    key = credentials.access_key or ""
    hint = f"{key[:4]}...{key[-4:]}" if len(key) > 12 else "****"
    return Clients(v2, v1, hint, str(getattr(credentials, "method", "") or "boto3"))


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``MessageRejected``...), else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code") or "")
    return ""


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = str(response.get("Error", {}).get("Message") or "")
        return " ".join(message.split())[:300]
    return str(exc)


def http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None
