"""Events through the real binary with third-party parsers: the iCalendar of an event and of a
user's feed parse with the `icalendar` package, in the event's time zone, at the same instants
the API reports."""

from datetime import datetime, timedelta, timezone

import icalendar
import requests

PASSWORD = "correct horse battery"


def register(base, email, username):
    response = requests.post(f"{base}/api/v1/auth/register", json={"email": email, "username": username, "password": PASSWORD}, timeout=30)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['accessToken']}"}


def test_icalendar_parses_events_and_feeds(start_flow):
    flow = start_flow({"FLOW_LOG_LEVEL": "warning"})
    ada = register(flow.base, "ada@example.com", "ada")
    bob = register(flow.base, "bob@example.com", "bob")
    created = []
    # Two zones, one event across a daylight-saving change (Lisbon, last Sunday of October).
    for title, zone, start in [("Fado, night; live", "Europe/Lisbon", datetime(2031, 10, 25, 22, 0, tzinfo=timezone.utc)),
                               ("Tokyo meetup", "Asia/Tokyo", datetime(2031, 3, 1, 9, 30, tzinfo=timezone.utc))]:
        body = {"title": title, "description": "Línea uno\nline two, with ; and \\ inside" + " long" * 30,
                "startsAt": start.isoformat().replace("+00:00", "Z"), "endsAt": (start + timedelta(hours=5)).isoformat().replace("+00:00", "Z"),
                "timeZone": zone, "type": "physical", "location": {"address": "Somewhere 1", "latitude": 38.7, "longitude": -9.1}}
        response = requests.post(f"{flow.base}/api/v1/events", json=body, headers=ada, timeout=10)
        assert response.status_code == 201, response.text
        created.append(response.json())
        requests.post(f"{flow.base}/api/v1/events/{response.json()['id']}/attend", headers=bob, timeout=10)

    for event in created:
        text = requests.get(f"{flow.base}/api/v1/events/{event['id']}.ics", timeout=10)
        assert text.headers["Content-Type"].startswith("text/calendar")
        calendar = icalendar.Calendar.from_ical(text.content)
        [vevent] = calendar.walk("VEVENT")
        assert str(vevent["SUMMARY"]) == event["title"]
        assert str(vevent["DESCRIPTION"]) == event["description"]
        start = vevent.decoded("DTSTART")
        assert str(start.tzinfo) == event["timeZone"] or getattr(start.tzinfo, "key", None) == event["timeZone"]
        assert start.astimezone(timezone.utc) == datetime.fromisoformat(event["startsAt"].replace("Z", "+00:00"))
        assert vevent.decoded("DTEND").astimezone(timezone.utc) == datetime.fromisoformat(event["endsAt"].replace("Z", "+00:00"))
        [zone] = calendar.walk("VTIMEZONE")
        assert str(zone["TZID"]) == event["timeZone"]
        # The VTIMEZONE alone (not the parser's own zone database) must give the same instants.
        described = zone.to_tz()
        for key, field in [("DTSTART", "startsAt"), ("DTEND", "endsAt")]:
            wall = vevent.decoded(key).replace(tzinfo=None)
            aware = described.localize(wall) if hasattr(described, "localize") else wall.replace(tzinfo=described)
            assert aware.astimezone(timezone.utc) == datetime.fromisoformat(event[field].replace("Z", "+00:00")), (key, event["timeZone"])

    feed = requests.post(f"{flow.base}/api/v1/calendar/feed", headers=bob, timeout=10).json()
    parsed = icalendar.Calendar.from_ical(requests.get(feed["url"], timeout=10).content)
    assert sorted(str(vevent["UID"]) for vevent in parsed.walk("VEVENT")) == sorted(f"{event['id']}@flow" for event in created)
    assert {str(zone["TZID"]) for zone in parsed.walk("VTIMEZONE")} == {"Europe/Lisbon", "Asia/Tokyo"}
