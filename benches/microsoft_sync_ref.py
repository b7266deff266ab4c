#!/usr/bin/env python3
"""Reference Microsoft 365 first delta round written with Microsoft's Python Graph SDK.

Run by `cargo bench --bench microsoft_sync` (benches/microsoft_sync.rs) against the same fake of
Graph as cadenced (`tests/fake_graph`); it can be run by hand:

    python3 benches/microsoft_sync_ref.py --graph-base http://127.0.0.1:PORT/v1.0 \
        --token-url http://127.0.0.1:PORT/TENANT/oauth2/v2.0/token --refresh-token TOKEN \
        --client-id ID --start 2025-01-01T00:00:00Z --end 2026-06-01T00:00:00Z

Needs `pip install msgraph-sdk` (Microsoft's official `msgraph-sdk`, on kiota + httpx).
`--client requests` runs the same loop with plain `requests` + `json` instead (no SDK models):
a lean baseline, since the SDK spends milliseconds per item building its model objects
(`Entity.get_field_deserializers` runs thousands of function-local imports per item).

Auth: azure-identity credentials insist on an https authority, so the access token is obtained
with one refresh-token POST (httpx, as MSAL would) and handed to the SDK through kiota's
`BaseBearerTokenAuthenticationProvider` with the fake's host allowed. The loop is the documented
first round of `calendarView/delta`: `client.me.calendar_view.delta...get()` with startDateTime /
endDateTime and `Prefer: outlook.timezone="UTC", odata.maxpagesize=200` (what cadenced sends),
then `.with_url(odata_next_link).get()` until a page carries `@odata.deltaLink`, keeping every
item (a parsed `Event` object) in a dict by id: the fair equivalent of storing it. It prints one
JSON line on stdout (items, pages, CPU seconds of imports and of the loop, by time.process_time).
"""

import argparse
import asyncio
import json
import sys
import time

_T0 = time.process_time()

# The SDK is imported only when it is the client measured (its imports are part of its cost).
_SDK = sys.argv[sys.argv.index("--client") + 1 :][:1] != ["requests"] if "--client" in sys.argv else True
if _SDK:
    import httpx  # noqa: E402
    from kiota_abstractions.authentication import (  # noqa: E402
        AccessTokenProvider,
        AllowedHostsValidator,
        BaseBearerTokenAuthenticationProvider,
    )
    from kiota_abstractions.base_request_configuration import RequestConfiguration  # noqa: E402
    from msgraph import GraphRequestAdapter, GraphServiceClient  # noqa: E402

    class StaticToken(AccessTokenProvider):
        """Hands out one access token for the allowed (fake) host."""

        def __init__(self, token: str, host: str):
            self._token = token
            self._validator = AllowedHostsValidator([host])

        async def get_authorization_token(self, uri, additional_authentication_context=None):
            return self._token

        def get_allowed_hosts_validator(self):
            return self._validator

_T_IMPORTED = time.process_time()


async def run(args) -> dict:
    async with httpx.AsyncClient() as http:
        r = await http.post(
            args.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": args.refresh_token,
                "client_id": args.client_id,
                "scope": "offline_access Calendars.Read User.Read",
            },
        )
        r.raise_for_status()
        token = r.json()["access_token"]
    host = httpx.URL(args.graph_base).host
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token, host)))
    adapter.base_url = args.graph_base
    client = GraphServiceClient(request_adapter=adapter)
    t_built = time.process_time()

    config = RequestConfiguration()
    config.headers.add("Prefer", 'outlook.timezone="UTC"')
    config.headers.add("Prefer", "odata.maxpagesize=200")
    # The SDK's own URL template is `/me/calendarView/delta()` (OData function-call syntax, which
    # Graph accepts); the fake only routes `/delta`, so the first URL is given with_url, with the
    # query the SDK's DeltaRequestBuilderGetQueryParameters would produce.
    first = httpx.URL(
        args.graph_base.rstrip("/") + "/me/calendarView/delta",
        params={"startDateTime": args.start, "endDateTime": args.end},
    )

    events = {}
    pages = 0
    resp = await client.me.calendar_view.delta.with_url(str(first)).get(
        request_configuration=config
    )
    delta_link = None
    while True:
        pages += 1
        for item in resp.value or []:
            events[item.id] = item
        delta_link = resp.odata_delta_link
        if delta_link:
            break
        if not resp.odata_next_link:
            raise SystemExit("neither @odata.nextLink nor @odata.deltaLink")
        resp = await client.me.calendar_view.delta.with_url(resp.odata_next_link).get(
            request_configuration=config
        )
    t_done = time.process_time()
    return {
        "items": len(events),
        "pages": pages,
        "import_cpu_s": _T_IMPORTED - _T0,
        "build_cpu_s": t_built - _T_IMPORTED,
        "loop_cpu_s": t_done - t_built,
        "delta_link": bool(delta_link),
    }


def run_requests(args) -> dict:
    """The same loop with plain `requests` + `json` (no SDK models): the lean baseline."""
    import requests

    t_imported = time.process_time()  # the import of requests (and json) is counted here
    http = requests.Session()
    r = http.post(
        args.token_url,
        data={
            "grant_type": "refresh_token",
            "refresh_token": args.refresh_token,
            "client_id": args.client_id,
            "scope": "offline_access Calendars.Read User.Read",
        },
    )
    r.raise_for_status()
    http.headers["Authorization"] = "Bearer " + r.json()["access_token"]
    http.headers["Prefer"] = 'outlook.timezone="UTC", odata.maxpagesize=200'
    t_built = time.process_time()
    events = {}
    pages = 0
    url = args.graph_base.rstrip("/") + "/me/calendarView/delta"
    params = {"startDateTime": args.start, "endDateTime": args.end}
    while True:
        r = http.get(url, params=params)
        r.raise_for_status()
        body = r.json()
        pages += 1
        for item in body.get("value", []):
            events[item["id"]] = item
        if body.get("@odata.deltaLink"):
            break
        url, params = body.get("@odata.nextLink"), None
        if not url:
            raise SystemExit("neither @odata.nextLink nor @odata.deltaLink")
    t_done = time.process_time()
    return {
        "items": len(events),
        "pages": pages,
        "import_cpu_s": t_imported - _T0,
        "build_cpu_s": t_built - t_imported,
        "loop_cpu_s": t_done - t_built,
        "delta_link": True,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--graph-base", required=True, help="fake base + /v1.0")
    p.add_argument("--token-url", required=True)
    p.add_argument("--refresh-token", required=True)
    p.add_argument("--client-id", required=True)
    p.add_argument("--start", required=True, help="startDateTime (UTC, RFC 3339)")
    p.add_argument("--end", required=True, help="endDateTime (UTC, RFC 3339)")
    p.add_argument(
        "--client",
        choices=["sdk", "requests"],
        default="sdk",
        help="msgraph-sdk (default), or plain requests + json",
    )
    args = p.parse_args()
    if args.client == "requests":
        print(json.dumps(run_requests(args)))
    else:
        print(json.dumps(asyncio.run(run(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
