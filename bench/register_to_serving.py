"""Register -> validate -> approve (by API) -> production, on the local platform over HTTP.

Target (PRODUCT.md): the automated part under 30 s. Prints the median of N runs and each
phase's share. Run: `make bench` or `.venv/bin/python -m bench.register_to_serving`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from steward.client import Client
from steward.local.platform import LocalPlatform
from tests.factories import model_spec, register_body

TARGET_S = 30.0


def one_run(client: Client, name: str) -> dict[str, float]:
    alice, bob = client.as_user("alice"), client.as_user("bob")
    alice.post("/models", model_spec(name))
    t0 = time.perf_counter()
    version = alice.post(f"/models/{name}/versions", register_body())
    t1 = time.perf_counter()
    path = f"/models/{name}/versions/{version['version']}"
    while alice.get(path)["status"] != "PENDING_APPROVAL":
        time.sleep(0.01)
    t2 = time.perf_counter()
    bob.post(f"{path}/decision", {"decision": "approve", "comment": "bench"})
    alice.put(f"/models/{name}/aliases/production", {"version": version["version"]})
    t3 = time.perf_counter()
    return {"register": t1 - t0, "validate": t2 - t1, "approve_deploy": t3 - t2, "total": t3 - t0}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with LocalPlatform(port=0, data_dir=Path(tempfile.gettempdir()) / "steward-bench") as platform:
        client = Client(url=platform.url)
        runs = [one_run(client, f"bench-{i:03d}") for i in range(args.runs)]
    for phase in ("register", "validate", "approve_deploy", "total"):
        values = [r[phase] for r in runs]
        print(
            f"register->serving {phase:>15}: median {statistics.median(values) * 1000:8.1f} ms"
            f"  (min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f}, n={len(values)})"
        )
    total = statistics.median(r["total"] for r in runs)
    print(
        f"register->serving: {total:.2f} s median vs target {TARGET_S:.0f} s "
        f"({'OK' if total < TARGET_S else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
