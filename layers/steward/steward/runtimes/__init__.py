"""Model runtimes, one per flavor, behind the :class:`~steward.runtimes.base.Runtime` interface."""
