#!/usr/bin/env python3
"""Reference Google Calendar full sync written with Google's official Python client.

Run by `cargo bench --bench google_sync` (benches/google_sync.rs) against the same fake of Google
as cadenced; it is not meant to be run by hand, but can be:

    python3 benches/google_sync_ref.py --api-endpoint http://127.0.0.1:PORT/calendar/v3/ \
        --token-url http://127.0.0.1:PORT/token --refresh-token TOKEN \
        --client-id ID --client-secret SECRET

Needs `pip install google-api-python-client google-auth`.

`client_options.api_endpoint` replaces the discovery document's whole base URL (rootUrl joined
with servicePath, `https://www.googleapis.com/calendar/v3/`), not just the host, so the caller
passes the fake's base with `/calendar/v3/` appended; method paths (`calendars/{calendarId}/events`)
are joined under it.

The loop is the documented full sync: events.list with singleEvents=False, showDeleted=True,
maxResults=2500, following nextPageToken until a page carries nextSyncToken, keeping every item
in a dict by id (the fair equivalent of storing it). It prints one JSON line on stdout with the
item count, the page count, and the CPU seconds spent importing and in the loop itself
(time.process_time, in-process), so the caller can tell interpreter start-up from the loop.
"""

import argparse
import json
import sys
import time

_T0 = time.process_time()

import google.oauth2.credentials  # noqa: E402
import googleapiclient.discovery  # noqa: E402

_T_IMPORTED = time.process_time()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--api-endpoint", required=True, help="fake base + /calendar/v3/")
    p.add_argument("--token-url", required=True)
    p.add_argument("--refresh-token", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret", required=True)
    p.add_argument("--calendar", default="primary")
    args = p.parse_args()

    creds = google.oauth2.credentials.Credentials(
        token=None,
        refresh_token=args.refresh_token,
        client_id=args.client_id,
        client_secret=args.client_secret,
        token_uri=args.token_url,
    )
    service = googleapiclient.discovery.build(
        "calendar",
        "v3",
        credentials=creds,
        static_discovery=True,
        cache_discovery=False,
        client_options={"api_endpoint": args.api_endpoint},
    )
    t_built = time.process_time()

    events = {}
    pages = 0
    page_token = None
    sync_token = None
    while True:
        resp = (
            service.events()
            .list(
                calendarId=args.calendar,
                singleEvents=False,
                showDeleted=True,
                maxResults=2500,
                pageToken=page_token,
            )
            .execute()
        )
        pages += 1
        for item in resp.get("items", []):
            events[item["id"]] = item
        sync_token = resp.get("nextSyncToken")
        if sync_token:
            break
        page_token = resp.get("nextPageToken")
        if not page_token:
            print("neither nextPageToken nor nextSyncToken", file=sys.stderr)
            return 1
    t_done = time.process_time()

    print(
        json.dumps(
            {
                "items": len(events),
                "pages": pages,
                "import_cpu_s": _T_IMPORTED - _T0,
                "build_cpu_s": t_built - _T_IMPORTED,
                "loop_cpu_s": t_done - t_built,
                "sync_token": bool(sync_token),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
