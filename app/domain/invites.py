"""iCalendar meeting invites (RFC 5545) built with the icalendar package."""

from __future__ import annotations

from datetime import datetime, timedelta

from icalendar import Calendar, Event, vCalAddress, vText


def meeting_invite(uid: str, summary: str, description: str, start: datetime, duration_minutes: int,
                   organizer_email: str, attendee_email: str, now: datetime) -> str:
    calendar = Calendar()
    calendar.add("prodid", "-//Kitchen Pantry CRM//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = Event()
    event.add("uid", uid)
    event.add("summary", summary)
    event.add("description", description)
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=duration_minutes))
    event.add("dtstamp", now)
    organizer = vCalAddress(f"mailto:{organizer_email}")
    organizer.params["cn"] = vText(organizer_email)
    event["organizer"] = organizer
    attendee = vCalAddress(f"mailto:{attendee_email}")
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["rsvp"] = vText("TRUE")
    event.add("attendee", attendee, encode=False)
    calendar.add_component(event)
    ical: bytes = calendar.to_ical()
    return ical.decode()
