"""The Steward CDK app: one Construct per capability, a stack that only composes."""
