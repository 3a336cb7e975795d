"""The local platform: the same handlers and state machines on an embedded AWS emulator.

Nothing here ships to Lambda (it imports moto and, for synthesis, the CDK app).
"""
