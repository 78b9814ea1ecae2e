"""Provisioning latency seen from Python: examples/python/workspace_schema.create_workspace().

Started by bench/python-provision.ts (which makes the database and starts the service); prints
one JSON document on stdout: per-call milliseconds of N calls one after another, and of R rounds
of C calls at once (threads), each measured around create_workspace() as the application sees it.

  /usr/bin/python3 bench/provision_from_python.py --mode service|cli --n 50 --concurrent 20 --rounds 3
"""
import argparse
import concurrent.futures
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "python"))
import workspace_schema as ws  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=("service", "cli"), required=True)
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "service":
        provisioner = ws.ProvisioningClient()  # TM_SERVICE_SOCKET
    else:
        provisioner = ws.CliProvisioner(command=os.environ["TM_CLI"].split(), cwd=os.environ["TM_PY_PROJECT"])

    engine = []  # the engine's own time per call (durationMs): the rest is the path's overhead

    def one(label: str) -> float:
        t0 = time.perf_counter()
        result = ws.create_workspace(label, "bench-owner", provisioner=provisioner)
        elapsed = (time.perf_counter() - t0) * 1000
        if result.outcome != "created":
            raise SystemExit(f"unexpected outcome {result.outcome}")
        engine.append((elapsed, result.duration_ms))
        return elapsed

    for i in range(args.warmup):
        one(f"warm-up {i}")
    engine.clear()
    sequential = [one(f"seq {i}") for i in range(args.n)]
    overhead = [total - inside for total, inside in engine]
    engine_ms = [inside for _, inside in engine]
    concurrent_ms = []
    walls = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.concurrent) as pool:
        for r in range(args.rounds):
            t0 = time.perf_counter()
            concurrent_ms += list(pool.map(lambda i: one(f"par {r}-{i}"), range(args.concurrent)))
            walls.append((time.perf_counter() - t0) * 1000)
    json.dump({"mode": args.mode, "sequential": sequential, "sequentialEngineMs": engine_ms, "sequentialOverheadMs": overhead, "concurrent": concurrent_ms, "wallsMs": walls}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
