"""boto3 adapters of the ports, one module per AWS service (``shared`` holds what they
share). Each adapter takes its boto3 client: :mod:`steward.wiring` builds them."""
