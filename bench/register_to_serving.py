"""Register -> serving on the local platform over HTTP, two ways:

- by hand: register -> validate -> approve (by API) -> production alias (by API);
- by policy: a low-risk model whose version passes its holdout gate is approved and promoted
  by the approval workflow alone (0 s bake): register -> production, nobody in between.

Target (PRODUCT.md, issue #6): under 30 s. Prints medians of N runs. Run: `make bench` or
`.venv/bin/python -m bench.register_to_serving`.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from steward.client import Client
from steward.local.platform import LocalPlatform
from tests.factories import model_spec, reference_rows, register_body

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


def one_auto_run(client: Client, name: str) -> float:
    alice = client.as_user("alice")
    deployment = {"auto_deploy": True, "auto_approve_low_risk": True, "gates": {"min_auc": 0.5}}
    # Only an approver or admin may set what approves without a person.
    client.as_user("admin").post(
        "/models", model_spec(name, risk_tier="low", deployment=deployment)
    )
    rows = reference_rows(300, seed=11)
    labels = [int(r["charges"] * 0.02 - r["tenure"] * 0.04 - 1.0 > -1.2) for r in rows]
    t0 = time.perf_counter()
    body = register_body(holdout_data={"instances": rows, "labels": labels})
    version = alice.post(f"/models/{name}/versions", body)
    while alice.get(f"/models/{name}")["aliases"].get("production") != version["version"]:
        time.sleep(0.01)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with LocalPlatform(port=0, data_dir=Path(tempfile.gettempdir()) / "steward-bench") as platform:
        client = Client(url=platform.url)
        runs = [one_run(client, f"bench-{i:03d}") for i in range(args.runs)]
        auto = [one_auto_run(client, f"bench-auto-{i:03d}") for i in range(args.runs)]
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
    by_policy = statistics.median(auto)
    print(
        f"register->production by policy (gates, auto-approval, workflow deploy): "
        f"{by_policy:.2f} s median (min {min(auto):.2f}, max {max(auto):.2f}, n={len(auto)}) "
        f"vs target {TARGET_S:.0f} s ({'OK' if by_policy < TARGET_S else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
