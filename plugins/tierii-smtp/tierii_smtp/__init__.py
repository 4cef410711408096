"""TierII delivery provider over SMTP: pooled connections, parallel sending, verified TLS."""

__version__ = "0.1.0"
