"""TierII delivery provider over the MailerSend API."""

__version__ = "0.1.0"
