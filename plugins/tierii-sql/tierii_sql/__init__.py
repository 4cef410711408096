"""TierII contact source for databases (SQLAlchemy)."""

__version__ = "0.1.0"
