"""A TierII plugin: contacts from JSON Lines files."""

__version__ = "0.1.0"
