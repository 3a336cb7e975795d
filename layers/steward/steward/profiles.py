"""Where the CLI and the Python client send requests: named profiles.

``~/.steward/config.toml`` (or ``$STEWARD_CONFIG``) holds them; ``$STEWARD_PROFILE`` or
``--profile`` picks one, else ``local``::

    [profiles.local]                 # built in: the local platform
    url = "http://127.0.0.1:8080"
    user = "alice"                   # sent as X-Steward-User (trusted only locally)

    [profiles.prod]                  # a deployed stack
    stack = "Steward"                # its ApiUrl output is the endpoint
    region = "eu-west-1"
    aws_profile = "modelrisk"        # optional: the AWS credentials profile

A deployed profile signs every request with SigV4 (service ``execute-api``) using the
user's own AWS credentials; the API sees the IAM principal as the caller. It needs botocore
(``pip install 'steward[aws]'``), and only botocore: the local profile needs nothing more
than the standard library and pydantic.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from steward.client import DEFAULT_URL, Client

Signer = Callable[[str, str, bytes | None, dict[str, str]], dict[str, str]]


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "local"
    url: str | None = None
    user: str | None = None
    stack: str | None = None
    region: str | None = None
    aws_profile: str | None = None
    output: str = Field(default="ApiUrl", description="the stack output holding the API URL")

    @property
    def deployed(self) -> bool:
        return self.stack is not None


def config_path() -> Path:
    return Path(os.environ.get("STEWARD_CONFIG") or Path.home() / ".steward" / "config.toml")


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    path = path or config_path()
    profiles = {"local": Profile(name="local", url=DEFAULT_URL)}
    if path.is_file():
        raw: dict[str, Any] = tomllib.loads(path.read_text()).get("profiles", {})
        for name, values in raw.items():
            profiles[name] = Profile(name=name, **values)
    return profiles


def select(name: str | None = None, path: Path | None = None) -> Profile:
    chosen = name or os.environ.get("STEWARD_PROFILE") or "local"
    profiles = load_profiles(path)
    if chosen not in profiles:
        known = ", ".join(sorted(profiles))
        raise SystemExit(f"no profile {chosen!r} in {path or config_path()} (known: {known})")
    return profiles[chosen]


def _session(profile: Profile) -> Any:
    try:
        from botocore.session import Session
    except ImportError:
        raise SystemExit(
            f"profile {profile.name} is a deployed stack: its requests are signed with "
            "botocore; pip install 'steward[aws]'"
        ) from None
    session = Session(profile=profile.aws_profile)
    if profile.region:
        session.set_config_variable("region", profile.region)
    return session


def _region(session: Any) -> str | None:
    region: str | None = session.get_config_variable("region")
    return region


def stack_endpoint(profile: Profile, session: Any | None = None) -> str:
    """The API URL from the stack's outputs (``ApiUrl`` unless the profile says otherwise)."""
    session = session or _session(profile)  # says how to install botocore if it is missing
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        cloudformation = session.create_client("cloudformation", region_name=_region(session))
        stacks = cloudformation.describe_stacks(StackName=profile.stack)["Stacks"]
    except (BotoCoreError, ClientError) as exc:  # no credentials, no network, no such stack
        raise SystemExit(
            f"profile {profile.name}: cannot read the outputs of stack {profile.stack} ({exc}); "
            "check the profile's stack, region and aws_profile, or name the API with --url"
        ) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if profile.output not in outputs:
        raise SystemExit(f"stack {profile.stack} has no output {profile.output}")
    return str(outputs[profile.output]).rstrip("/")


def sigv4_signer(session: Any, region: str) -> Signer:
    """Headers that sign a request with the session's credentials (botocore's SigV4Auth)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    credentials = session.get_credentials()
    if credentials is None:
        raise SystemExit("no AWS credentials found for this profile")

    def sign(method: str, url: str, body: bytes | None, headers: dict[str, str]) -> dict[str, str]:
        request = AWSRequest(method=method, url=url, data=body or b"", headers=dict(headers))
        SigV4Auth(credentials.get_frozen_credentials(), "execute-api", region).add_auth(request)
        return dict(request.headers.items())

    return sign


def client_for(
    profile: Profile, *, url: str | None = None, user: str | None = None, session: Any = None
) -> Client:
    """A client for ``profile``; ``url``/``user`` (flags or environment) override it."""
    if not profile.deployed:
        return Client(url=url or profile.url or DEFAULT_URL, user=user or profile.user)
    session = session or _session(profile)
    region = profile.region or _region(session)
    if not region:
        raise SystemExit(f"profile {profile.name}: set region")
    endpoint = url or stack_endpoint(profile, session)
    return Client(url=endpoint, user=None, signer=sigv4_signer(session, region))
