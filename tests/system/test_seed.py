"""`flow seed` through the real binary: the demo fills an empty database once (a second run adds
nothing), its events reach the bus like events made through the API, and synthetic seeding
adds exactly the events asked for, discoverable nearby the seeded city."""

import sqlite3
import subprocess

import requests

from conftest import flow_binary


def seed(tmp_path, *args):
    result = subprocess.run([str(flow_binary()), "seed", *args], cwd=tmp_path, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "FLOW_LOG_LEVEL": "warning"}, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout


def count(tmp_path, sql):
    with sqlite3.connect(tmp_path / "flow-data" / "flow.sqlite") as db:
        return db.execute(sql).fetchone()[0]


def test_demo_seeds_once_and_synthetic_seeds_what_was_asked(tmp_path, start_flow):
    first = seed(tmp_path, "--demo")
    assert "Demo data around Lisbon" in first and "demo1@flow.test" in first
    events = count(tmp_path, "SELECT COUNT(*) FROM events")
    assert events == 300
    assert count(tmp_path, "SELECT COUNT(*) FROM bus_events WHERE type = 'event.created'") == events
    venues = count(tmp_path, "SELECT COUNT(*) FROM venues")

    again = seed(tmp_path, "--demo")
    assert "already here" in again
    assert count(tmp_path, "SELECT COUNT(*) FROM events") == events and count(tmp_path, "SELECT COUNT(*) FROM venues") == venues

    seed(tmp_path, "--events", "250", "--city", "porto", "--seed", "3")
    assert count(tmp_path, "SELECT COUNT(*) FROM events") == events + 250

    flow = start_flow({"FLOW_LOG_LEVEL": "warning"}, workdir=tmp_path)
    signed_in = requests.post(f"{flow.base}/api/v1/auth/login", json={"email": "demo1@flow.test", "password": "flow demo password"}, timeout=30)
    assert signed_in.status_code == 200, signed_in.text
    near_porto = flow.get("/api/v1/events/nearby?lat=41.1579&lng=-8.6291&radius=30&limit=50").json()["items"]
    assert len(near_porto) == 50 and all(item["distanceKm"] <= 30 for item in near_porto)
    near_lisbon = flow.get("/api/v1/events/nearby?lat=38.7223&lng=-9.1393&radius=30&limit=5").json()["items"]
    assert len(near_lisbon) == 5
