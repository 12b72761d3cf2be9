"""Signed-out reads of an event are served from memory; a change made through another instance
sharing the PostgreSQL database must reach them through NOTIFY long before the entry expires."""

import time

import requests

PASSWORD = "correct horse battery"


def register(base, email, username):
    response = requests.post(f"{base}/api/v1/auth/register", json={"email": email, "username": username, "password": PASSWORD}, timeout=30)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


def seen_within(seconds, check):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_changes_through_one_instance_reach_the_cache_of_another(start_flow, postgres):
    # An hour of cache lifetime: only the notification can explain a fresh read.
    # One signing secret, so a token from one instance is good at the other.
    env = {"FLOW_DATABASE_URL": postgres.create_database(), "FLOW_LOG_LEVEL": "warning", "FLOW_EVENTS_CACHE_SECONDS": "3600",
           "FLOW_AUTH_JWT_SECRET": "event-cache-test-secret-of-at-least-32-characters"}
    writer = start_flow(env)
    reader = start_flow(env)
    ada = register(writer.base, "ada@example.com", "ada")
    bob = register(writer.base, "bob@example.com", "bob")
    body = {"title": "Rooftop jazz", "startsAt": "2031-06-01T19:00:00Z", "endsAt": "2031-06-01T22:00:00Z", "timeZone": "Europe/Lisbon",
            "type": "physical", "location": {"address": "Rua A 1", "latitude": 38.71, "longitude": -9.14}}
    created = requests.post(f"{writer.base}/api/v1/events", json=body, headers=ada, timeout=10)
    assert created.status_code == 201, created.text
    path = f"/api/v1/events/{created.json()['id']}"

    first = reader.get(path)
    assert first.status_code == 200 and first.json()["title"] == "Rooftop jazz"
    assert reader.get(path).content == first.content, "a second signed-out read answers the same bytes"

    assert requests.put(writer.base + path, json={"title": "Rooftop jazz, moved indoors"}, headers=ada, timeout=10).status_code == 200
    assert seen_within(5, lambda: reader.get(path).json()["title"] == "Rooftop jazz, moved indoors"), "an edit on another instance"

    assert requests.post(f"{writer.base}{path}/attend", json={"status": "going"}, headers=bob, timeout=10).status_code in (200, 201)
    assert seen_within(5, lambda: reader.get(path).json()["goingCount"] == 1), "attendance on another instance"

    assert requests.put(writer.base + path, json={"visibility": "private"}, headers=ada, timeout=10).status_code == 200
    assert seen_within(5, lambda: reader.get(path).status_code == 404), "a private event is hidden from the signed-out at once"
    # Signed-in callers never read the shared cache: the organizer still sees it.
    assert reader.get(path, headers=ada).status_code == 200
