"""tierii-keyring: providers' secrets from the system keyring, before the settings fallback."""

__version__ = "0.1.0"
