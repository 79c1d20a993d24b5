"""scripts/topology end to end: a 3-primary cluster, two collectors with the deployed
config, beacons round-robin, SIGTERM; every 204 must be one view in Redis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "topology.py"


def test_the_deployed_topology_counts_every_answered_beacon_once() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--collectors", "2", "--beacons", "300", "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.rstrip().splitlines()[-1].startswith("OK"), run.stdout
