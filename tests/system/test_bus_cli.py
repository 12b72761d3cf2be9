"""`flow bus` as an operator uses it: status, dead letters, replay and prune, on a database where
a probe worker (flow-bus-probe) produced dead letters."""

import re
import signal
import subprocess
import time

from conftest import flow_binary
from test_bus_processes import Handled, probe, start_worker


def flow_bus(*args, database, cwd):
    return subprocess.run([str(flow_binary()), "bus", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "FLOW_DATABASE_URL": database, "FLOW_LOG_LEVEL": "warning"})


def wait_for(condition, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_status_dead_letters_replay_prune(tmp_path):
    database = f"sqlite:{tmp_path}/bus.sqlite"
    assert probe("migrate", database=database).returncode == 0
    assert probe("publish", "--count", "3", "--groups", "1", database=database).returncode == 0

    failing = start_worker(database, "failing", slow_ms=0, groups=1, extra=["--fail", "--max-attempts", "2"])
    wait_for(lambda: "   3\n" in flow_bus("status", database=database, cwd=tmp_path).stdout)
    failing.send_signal(signal.SIGTERM)
    assert failing.wait(timeout=60) == 0

    status = flow_bus("status", database=database, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    row = next(line for line in status.stdout.splitlines() if line.startswith("probe.g1"))
    assert "(unregistered)" in row  # the server does not know the probe's group, but shows its rows
    assert row.split()[-1] == "3" and row.split()[2] == "0"

    listed = flow_bus("dead-letters", "--group", "probe.g1", "--limit", "2", database=database, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    ids = re.findall(r"^([0-9a-f-]{36})  probe\.g1  probe\.tick", listed.stdout, re.MULTILINE)
    assert len(ids) == 2
    assert "probe handler told to fail" in listed.stdout and "attempts 2" in listed.stdout
    more = re.search(r"--cursor (\S+)", listed.stdout)
    assert more, "a full page must print the cursor of the next"
    rest = flow_bus("dead-letters", "--group", "probe.g1", "--cursor", more.group(1), database=database, cwd=tmp_path)
    assert len(re.findall(r"probe\.tick", rest.stdout)) == 1

    one = flow_bus("replay", "--dead-letter", ids[0], database=database, cwd=tmp_path)
    assert one.returncode == 0 and "queued again" in one.stdout
    others = flow_bus("replay", "--group", "probe.g1", database=database, cwd=tmp_path)
    assert others.returncode == 0 and "Queued 2 dead letter(s)" in others.stdout
    missing = flow_bus("replay", "--dead-letter", ids[0], database=database, cwd=tmp_path)
    assert "No dead letter" in missing.stdout

    handled = Handled(database)
    healthy = start_worker(database, "healthy", slow_ms=0, groups=1)
    wait_for(lambda: len(handled.rows()) == 3)
    healthy.send_signal(signal.SIGTERM)
    assert healthy.wait(timeout=60) == 0
    after = flow_bus("status", database=database, cwd=tmp_path).stdout
    # Nothing pending and no dead letters: an unregistered group with no rows left is not listed.
    assert not any(line.startswith("probe.g1") for line in after.splitlines()), after

    pruned = flow_bus("prune", database=database, cwd=tmp_path)
    assert pruned.returncode == 0 and "Pruned 0 event(s)" in pruned.stdout  # all younger than the retention

    usage = flow_bus("replay", database=database, cwd=tmp_path)
    assert usage.returncode == 64 and "say what to replay" in usage.stderr
    lone_event = flow_bus("replay", "--event", ids[0], database=database, cwd=tmp_path)
    assert lone_event.returncode == 64 and "--event replays one event to one group" in lone_event.stderr
    # One event goes to a group this binary runs; the probe's group is not one of them.
    unknown_group = flow_bus("replay", "--event", ids[0], "--group", "probe.g1", database=database, cwd=tmp_path)
    assert unknown_group.returncode != 0 and "no consumer group named probe.g1" in unknown_group.stderr, unknown_group
