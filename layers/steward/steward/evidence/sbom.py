"""``sbom.cdx.json``: a CycloneDX 1.6 bill of materials of the runtime that built the pack
(every installed distribution and its version, from ``importlib.metadata``) and of the
model's artifacts (each version's sha256). No timestamp and no random serial number: the
same runtime and versions give the same bytes."""

from __future__ import annotations

import json
import uuid
from functools import cache
from importlib import metadata
from typing import Any

from steward import __version__


@cache
def runtime_packages() -> tuple[tuple[str, str], ...]:
    """``(name, version)`` of every installed distribution, sorted, once each. Read once
    per process (a runtime's packages do not change under it): parsing ~150 METADATA files
    was a third of a 50-version pack's CPU time."""
    found: set[tuple[str, str]] = set()
    for dist in metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.add((str(name), str(dist.version)))
    return tuple(sorted(found, key=lambda p: (p[0].lower(), p[1])))


def _purl_name(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def sbom(model: str, at: str, artifacts: list[dict[str, Any]]) -> bytes:
    """``artifacts``: ``{"version", "sha256", "flavor", "uri"}`` per version."""
    components: list[dict[str, Any]] = [
        {
            "type": "machine-learning-model",
            "bom-ref": f"model:{model}/{a['version']}",
            "name": model,
            "version": str(a["version"]),
            "description": f"{a['flavor']} artifact at {a['uri']}",
            "hashes": [{"alg": "SHA-256", "content": a["sha256"]}],
        }
        for a in artifacts
    ]
    for name, version in runtime_packages():
        purl = f"pkg:pypi/{_purl_name(name)}@{version}"
        components.append(
            {"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl}
        )
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": uuid.uuid5(uuid.NAMESPACE_URL, f"steward:{model}@{at}").urn,
        "version": 1,
        "metadata": {
            "tools": {
                "components": [{"type": "application", "name": "steward", "version": __version__}]
            },
            "component": {
                "type": "application",
                "bom-ref": f"steward-evidence:{model}",
                "name": f"{model} evidence pack",
                "version": at,
            },
        },
        "components": components,
    }
    return (json.dumps(bom, indent=2, sort_keys=True) + "\n").encode()
