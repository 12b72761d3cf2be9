"""Failure behaviour of a running server: a PostgreSQL outage and a SIGTERM under load."""

import http.client
import json
import signal
import tempfile
import threading
import time
from pathlib import Path

from conftest import start_cluster_or_skip


def test_ready_follows_a_postgresql_outage_without_a_restart(start_flow):
    cluster = start_cluster_or_skip(Path(tempfile.mkdtemp(prefix="flow-outage-pg-")))
    try:
        flow = start_flow({"FLOW_DATABASE_URL": cluster.url})
        assert flow.get("/ready").status_code == 200

        cluster.stop()
        stopped_at = time.monotonic()
        while flow.get("/ready", timeout=10).status_code != 503:
            assert time.monotonic() - stopped_at < 5, "/ready still 200 five seconds after PostgreSQL stopped"
            time.sleep(0.1)
        turned_503_after = time.monotonic() - stopped_at
        body = flow.get("/ready").json()
        assert body["error"]["code"] == "not_ready"
        assert body["error"]["details"]["checks"]["database"].startswith("unreachable")
        for _ in range(5):
            assert flow.get("/health", timeout=2).status_code == 200

        cluster.start()
        restarted_at = time.monotonic()
        while flow.get("/ready", timeout=10).status_code != 200:
            assert time.monotonic() - restarted_at < 60, "/ready did not recover after PostgreSQL came back"
            time.sleep(0.2)
        recovered_after = time.monotonic() - restarted_at
        print(f"\n/ready turned 503 {turned_503_after:.2f}s after the stop, 200 again {recovered_after:.2f}s after the restart")
        assert flow.process.poll() is None
    finally:
        cluster.stop(remove=True)


def test_api_requests_answer_within_the_acquire_timeout_when_postgresql_stops_under_traffic(start_flow):
    """While the pool serves, leases wait without a per-lease deadline (PostgresLeases); once
    PostgreSQL has stopped, every request must still answer 503 within the acquire timeout, not
    after the pool's one-minute circuit breaker, and none may hang (a query written to a closing
    connection used to wait forever)."""
    cluster = start_cluster_or_skip(Path(tempfile.mkdtemp(prefix="flow-outage-load-pg-")))
    try:
        flow = start_flow({"FLOW_DATABASE_URL": cluster.url, "FLOW_DATABASE_ACQUIRE_TIMEOUT": "2"})
        path = "/api/v1/events?limit=5"
        assert flow.get(path).status_code == 200
        stop = threading.Event()
        lock = threading.Lock()
        answers = []  # (sent, seconds, status)
        failures = []

        def client():
            # A request caught in the instant of the stop may wait for the pool's circuit
            # breaker (a minute, PostgresLeases says why); the timeout is above that.
            connection = http.client.HTTPConnection("127.0.0.1", flow.port, timeout=90)
            try:
                while not stop.is_set():
                    sent = time.monotonic()
                    connection.request("GET", path)
                    response = connection.getresponse()
                    body = json.loads(response.read())
                    with lock:
                        answers.append((sent, time.monotonic() - sent, response.status))
                    if response.status != 200 and body.get("error", {}).get("code") != "service_unavailable":
                        failures.append(f"{response.status}: {body}")
            except Exception as error:  # noqa: BLE001 - a timeout or a cut connection is the failure looked for
                failures.append(repr(error))
            finally:
                connection.close()

        threads = [threading.Thread(target=client) for _ in range(6)]  # more than the pool's 4 connections
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # the pool has been serving for a while: leases skip the per-lease deadline
        stopping = time.monotonic()
        cluster.stop()
        stopped = time.monotonic()
        time.sleep(4)
        stop.set()
        for thread in threads:
            thread.join(timeout=90)
        assert all(not thread.is_alive() for thread in threads), "a request was still waiting 90 s after the stop"

        before = [a for a in answers if a[0] < stopping]
        during = [a for a in answers if stopping <= a[0] < stopped]
        after = [a for a in answers if a[0] >= stopped]
        slowest_after = max(seconds for _, seconds, _ in after)
        print(f"\n{len(before)} sent before the stop, {len(during)} while PostgreSQL stopped "
              f"(slowest {max([s for _, s, _ in during], default=0):.2f}s), {len(after)} after it "
              f"({sum(1 for _, _, status in after if status == 503)} of them 503, slowest {slowest_after:.2f}s)")
        errors = [r for r in flow.log_records() if r.get("level") in ("error", "critical")]
        assert failures == [], f"server errors: {errors}"
        assert len(before) > 50
        assert after and all(status == 503 for _, _, status in after)
        assert slowest_after < 2 + 1.5, f"a request sent after the stop waited {slowest_after:.2f}s (acquire timeout 2 s)"
        # Nothing is left hanging: the server stops cleanly while PostgreSQL is still down.
        flow.signal(signal.SIGTERM)
        assert flow.wait(timeout=30) == 0
    finally:
        cluster.stop(remove=True)


def test_sigterm_during_a_burst_completes_every_answered_request(start_flow):
    flow = start_flow({"FLOW_SHUTDOWN_GRACE": "10"})
    outcomes = {"complete": 0, "refused": 0, "incomplete": []}
    lock = threading.Lock()
    stop = threading.Event()

    def client(path):
        while not stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", flow.port, timeout=10)
            try:
                for _ in range(20):  # keep-alive: several requests per connection
                    connection.request("GET", path)
                    response = connection.getresponse()
                    body = response.read()  # raises IncompleteRead on a cut body
                    json.loads(body) if path != "/metrics" else body.decode()
                    if response.status != 200:
                        raise AssertionError(f"{path}: status {response.status}")
                    with lock:
                        outcomes["complete"] += 1
            except (ConnectionRefusedError, ConnectionResetError, BrokenPipeError,
                    http.client.RemoteDisconnected):
                # No response at all: the server had stopped accepting, or closed an idle
                # keep-alive connection. Clients retry these; they are not broken responses.
                with lock:
                    outcomes["refused"] += 1
                if flow.process.poll() is not None:
                    return
                time.sleep(0.01)
            except Exception as error:  # noqa: BLE001 - anything else is a broken response
                with lock:
                    outcomes["incomplete"].append(repr(error))
            finally:
                connection.close()

    threads = [threading.Thread(target=client, args=(path,)) for path in ["/ready", "/openapi.json", "/metrics", "/health"] * 4]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    before = outcomes["complete"]
    flow.signal(signal.SIGTERM)
    code = flow.wait(timeout=30)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)

    print(f"\n{outcomes['complete']} complete responses ({before} before SIGTERM), {outcomes['refused']} refused/closed")
    assert code == 0
    assert outcomes["incomplete"] == []
    assert before > 100
