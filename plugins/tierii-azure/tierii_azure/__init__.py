"""TierII delivery provider for Azure Communication Services email."""

__version__ = "0.1.0"
