"""TierII delivery provider over Amazon SES, and its SNS bounce and complaint receiver."""

__version__ = "0.1.0"
