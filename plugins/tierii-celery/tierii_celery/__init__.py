"""tierii-celery: TierII campaigns sent by Celery workers on many machines, with Redis as the
broker and the shared token buckets, and the state store (PostgreSQL) as the truth."""

__version__ = "0.1.0"
