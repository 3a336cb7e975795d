"""The automated model lifecycle: approval gates, canary, promotion or rollback, retrain."""
