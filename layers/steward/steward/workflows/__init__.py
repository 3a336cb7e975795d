"""Workflow tasks: the Lambda side of the Step Functions state machines."""
