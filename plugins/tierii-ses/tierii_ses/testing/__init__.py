"""Test support for tierii-ses, for its own tests and anyone else's.

- :class:`LocalSes`: moto's server on 127.0.0.1, with its record of sent messages;
- :class:`FaultProxy`: a thin proxy in front of it for what moto cannot do (throttling, a
  paused account, an answer lost after sending, SES's ``GetAccount``);
- :class:`LocalSns`: a test CA, an SNS signing certificate served over https on 127.0.0.1,
  genuine and forged SNS messages carrying SES bounce and complaint notifications.

Importing this imports nothing heavy; moto, trustme and cryptography load when used.
"""

from tierii_ses.testing.moto import LocalSes, SentMessage
from tierii_ses.testing.proxy import FaultProxy, account

__all__ = ["FaultProxy", "LocalSes", "SentMessage", "account"]
