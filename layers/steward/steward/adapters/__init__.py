"""Port implementations: boto3 adapters for AWS (and the local emulator), in-memory fakes."""
