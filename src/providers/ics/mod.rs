//! iCalendar feeds (`provider = "ics"`): reading a file or URL into normalized events.
