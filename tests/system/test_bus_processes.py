"""The bus across real processes: a worker killed with SIGKILL in the middle of its batch loses
nothing; its claimed deliveries are redelivered to the surviving worker after the claim timeout.
Uses Benchmarks/BusProbe (flow-bus-probe), which runs the Bus library with recording handlers."""

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import ROOT, start_cluster_or_skip

EVENTS = 240
GROUPS = 2


def probe_binary() -> Path:
    path = Path(os.environ.get("FLOW_BUS_PROBE", ROOT / ".build" / "debug" / "flow-bus-probe"))
    if not path.exists():
        pytest.fail(f"{path} is missing: scripts/test builds it")
    return path


def probe(*args, database, **kwargs):
    return subprocess.run([str(probe_binary()), *args, "--database", database], capture_output=True, text=True,
                          timeout=kwargs.pop("timeout", 180), **kwargs)


def start_worker(database, name, slow_ms, groups=None, extra=()):
    process = subprocess.Popen(
        [str(probe_binary()), "work", "--database", database, "--groups", str(groups or GROUPS), "--slow-ms", str(slow_ms),
         "--batch-size", "8", "--claim-timeout-ms", "1500", "--name", name, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return process


class Handled:
    """Reads probe_handled (what the handlers recorded) with the engine's own client."""

    def __init__(self, database, cluster=None):
        self.database = database
        self.cluster = cluster

    def rows(self):
        sql = "SELECT event_id, consumer_group, worker, attempt FROM probe_handled"
        if self.cluster is None:
            return self._sqlite(sql)
        out = self.cluster.query(sql, self.database)
        return [tuple(line.split("|")[:3]) + (int(line.split("|")[3]),) for line in out.splitlines() if line]

    def deliveries_left(self):
        """Claims not yet finished (log ranges and delivery rows): a handling recorded by a worker
        that died before it could release its claim is still here, waiting for the claim to expire."""
        sql = "SELECT (SELECT count(*) FROM bus_deliveries) + (SELECT count(*) FROM bus_range_claims)"
        if self.cluster is None:
            return self._sqlite(sql)[0][0]
        return int(self.cluster.query(sql, self.database).strip())

    def _sqlite(self, sql):
        import sqlite3
        with sqlite3.connect(self.database.removeprefix("sqlite:"), timeout=10) as connection:
            return connection.execute(sql).fetchall()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_killed_worker_loses_nothing(engine, tmp_path):
    cluster = None
    if engine == "sqlite":
        database = f"sqlite:{tmp_path}/bus.sqlite"
    else:
        cluster = start_cluster_or_skip(Path(tempfile.mkdtemp(prefix="flow-bus-pg-")))
        database = cluster.create_database()
    try:
        assert probe("migrate", database=database).returncode == 0
        published = probe("publish", "--count", str(EVENTS), "--groups", str(GROUPS), database=database)
        assert published.returncode == 0, published.stderr
        handled = Handled(database, cluster)

        # The victim records 20 handlings, then its handlers hang holding their claims, so the kill
        # always lands mid-batch (a kill timed from outside could fall between two batches).
        victim = start_worker(database, "victim", slow_ms=20, extra=("--stall-after", "20"))
        deadline = time.monotonic() + 60
        while len(handled.rows()) < 20:
            assert time.monotonic() < deadline, "the first worker handled nothing"
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)  # its claims stay behind
        victim.wait(timeout=30)
        killed_at = time.monotonic()

        survivor = start_worker(database, "survivor", slow_ms=0)
        deadline = time.monotonic() + 120
        while handled.deliveries_left() > 0 or len({(event, group) for event, group, _, _ in handled.rows()}) < EVENTS * GROUPS:
            assert time.monotonic() < deadline, "events were lost after the kill"
            time.sleep(0.1)
        recovered_after = time.monotonic() - killed_at
        survivor.send_signal(signal.SIGTERM)
        assert survivor.wait(timeout=60) == 0, survivor.stderr.read()

        rows = handled.rows()
        per_delivery = {}
        for event, group, worker, attempt in rows:
            per_delivery.setdefault((event, group), []).append((worker, attempt))
        assert len(per_delivery) == EVENTS * GROUPS
        redelivered = [d for d, handlings in per_delivery.items() if any(attempt > 1 for _, attempt in handlings)]
        # The victim died holding claims (hung handlers in batches of 8, both groups): those deliveries came
        # back as second attempts once the claim expired.
        assert redelivered, "nothing was redelivered: the kill did not hit a claimed batch"
        assert all(worker == "survivor" for d in redelivered for worker, attempt in per_delivery[d] if attempt > 1)
        print(f"\n{engine}: {len(redelivered)} deliveries redelivered after SIGKILL; all {EVENTS * GROUPS} handled "
              f"{recovered_after:.1f}s after the kill")
    finally:
        if cluster:
            cluster.stop(remove=True)
