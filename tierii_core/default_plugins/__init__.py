"""The plugins every TierII run has; each can be overridden or disabled by name."""
