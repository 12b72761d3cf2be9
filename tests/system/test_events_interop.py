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


# Rules checked against python-dateutil's rrule: the expansion of each must give the same
# wall-clock starts in the event's time zone.
RULES = [
    ({"frequency": "daily", "interval": 3, "count": 12}, dict(freq="DAILY", interval=3, count=12)),
    ({"frequency": "weekly", "byWeekday": ["MO", "WE", "FR"], "count": 20}, dict(freq="WEEKLY", byweekday="MO,WE,FR", count=20)),
    ({"frequency": "weekly", "interval": 2, "byWeekday": ["SA"], "until": "2032-06-30T23:00:00Z"}, dict(freq="WEEKLY", interval=2, byweekday="SA", until="2032-06-30T23:00:00Z")),
    ({"frequency": "monthly", "count": 14}, dict(freq="MONTHLY", count=14)),
    ({"frequency": "monthly", "byMonthDay": [-1, 15], "count": 10}, dict(freq="MONTHLY", bymonthday=(-1, 15), count=10)),
    ({"frequency": "monthly", "interval": 2, "byWeekday": ["2TU", "-1FR"], "count": 10}, dict(freq="MONTHLY", interval=2, byweekday="+2TU,-1FR", count=10)),
    ({"frequency": "yearly", "count": 6}, dict(freq="YEARLY", count=6)),
    ({"frequency": "yearly", "byMonth": [3, 10], "byWeekday": ["-1SU"], "count": 8}, dict(freq="YEARLY", bymonth=(3, 10), byweekday="-1SU", count=8)),
    ({"frequency": "daily", "byWeekday": ["TU", "TH"], "byMonth": [1, 7], "count": 15}, dict(freq="DAILY", byweekday="TU,TH", bymonth=(1, 7), count=15)),
]


def dateutil_starts(first_local, zone, spec):
    from dateutil import rrule as du
    from zoneinfo import ZoneInfo

    weekdays = {"MO": du.MO, "TU": du.TU, "WE": du.WE, "TH": du.TH, "FR": du.FR, "SA": du.SA, "SU": du.SU}
    kwargs = {"freq": getattr(du, spec["freq"]), "dtstart": first_local.replace(tzinfo=ZoneInfo(zone)), "interval": spec.get("interval", 1)}
    if "count" in spec:
        kwargs["count"] = spec["count"]
    if "until" in spec:
        kwargs["until"] = datetime.fromisoformat(spec["until"].replace("Z", "+00:00"))
    if "bymonth" in spec:
        kwargs["bymonth"] = spec["bymonth"]
    if "bymonthday" in spec:
        kwargs["bymonthday"] = spec["bymonthday"]
    if "byweekday" in spec:
        days = []
        for code in spec["byweekday"].split(","):
            day = weekdays[code[-2:]]
            days.append(day(int(code[:-2])) if len(code) > 2 else day)
        kwargs["byweekday"] = days
    return [dt.replace(tzinfo=None) for dt in du.rrule(**kwargs)]


def test_recurrence_agrees_with_dateutil(start_flow):
    from zoneinfo import ZoneInfo

    flow = start_flow({"FLOW_LOG_LEVEL": "warning"})
    ada = register(flow.base, "ada@example.com", "ada")
    zone = "Europe/Lisbon"
    # 18:30 local on a Wednesday in 2031: far from DST gaps, and the rules cross DST changes.
    first_local = datetime(2031, 1, 15, 18, 30)
    first_utc = first_local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)
    for rule, spec in RULES:
        body = {"title": "Series", "startsAt": first_utc.isoformat().replace("+00:00", "Z"),
                "endsAt": (first_utc + timedelta(hours=2)).isoformat().replace("+00:00", "Z"), "timeZone": zone, "type": "physical",
                "location": {"latitude": 38.7, "longitude": -9.1}, "recurrence": rule}
        created = requests.post(f"{flow.base}/api/v1/events", json=body, headers=ada, timeout=10)
        assert created.status_code == 201, created.text
        got = []
        window = first_utc - timedelta(days=1)
        while len(got) < 40 and window < first_utc + timedelta(days=5 * 366):
            end = window + timedelta(days=399)
            page = requests.get(f"{flow.base}/api/v1/events/{created.json()['id']}/occurrences", timeout=10,
                                params={"from": window.isoformat().replace("+00:00", "Z"), "to": end.isoformat().replace("+00:00", "Z")})
            assert page.status_code == 200, page.text
            got += [datetime.fromisoformat(item["startsAt"].replace("Z", "+00:00")).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
                    for item in page.json()["items"]]
            window = end
        expected = dateutil_starts(first_local, zone, spec)
        assert got == expected[:len(got)] and len(got) == min(len(expected), len(got)), (rule, got[:5], expected[:5])
        assert len(got) == len(expected), (rule, len(got), len(expected))


def test_a_moved_occurrence_exports_as_a_recurrence_id_override(start_flow):
    flow = start_flow({"FLOW_LOG_LEVEL": "warning"})
    ada = register(flow.base, "ada@example.com", "ada")
    first = datetime(2031, 5, 7, 17, 0, tzinfo=timezone.utc)
    body = {"title": "Weekly run", "startsAt": first.isoformat().replace("+00:00", "Z"),
            "endsAt": (first + timedelta(hours=1)).isoformat().replace("+00:00", "Z"), "timeZone": "Europe/Lisbon", "type": "physical",
            "location": {"latitude": 38.7, "longitude": -9.1}, "recurrence": {"frequency": "weekly", "count": 4}}
    created = requests.post(f"{flow.base}/api/v1/events", json=body, headers=ada, timeout=10)
    assert created.status_code == 201, created.text
    event_id = created.json()["id"]
    second = (first + timedelta(days=7)).isoformat().replace("+00:00", "Z")
    moved_to = first + timedelta(days=8, hours=2)
    moved = requests.put(f"{flow.base}/api/v1/events/{event_id}/occurrences/{second}", headers=ada, timeout=10,
                         json={"startsAt": moved_to.isoformat().replace("+00:00", "Z"), "title": "Hill run"})
    assert moved.status_code == 200, moved.text

    calendar = icalendar.Calendar.from_ical(requests.get(f"{flow.base}/api/v1/events/{event_id}.ics", timeout=10).content)
    series, override = sorted(calendar.walk("VEVENT"), key=lambda vevent: "RECURRENCE-ID" in vevent)
    assert str(series["UID"]) == str(override["UID"]) == f"{event_id}@flow"
    assert "RRULE" in series and "RRULE" not in override
    assert override.decoded("RECURRENCE-ID").astimezone(timezone.utc) == first + timedelta(days=7)
    assert override.decoded("DTSTART").astimezone(timezone.utc) == moved_to
    assert override.decoded("DTEND").astimezone(timezone.utc) == moved_to + timedelta(hours=1)
    assert str(override["SUMMARY"]) == "Hill run"
