#!/usr/bin/env python3
"""Record the HTTP requests pydoover's DataClient really sends, as fixtures for tagwire's tests.

Runs pydoover's own DataClient (unmodified, from a checkout on sys.path) against a tiny local
recording server on 127.0.0.1 that answers each request with a minimal Doover-shaped body so the
client carries on, and writes one JSON file per call into test/fixtures/pydoover-http/.

    /usr/bin/python3 scripts/golden/pydoover_http_record.py /tmp/pydoover-api

Needs httpx and aiohttp importable (Debian: apt-get install python3-httpx python3-aiohttp).
"""
import base64
import gzip
import json
import os
import subprocess
import sys
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

PYDOOVER = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "/tmp/pydoover-api")
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "pydoover-http")
sys.path.insert(0, PYDOOVER)

from pydoover.api import DataClient  # noqa: E402
from pydoover.models.data.exceptions import HTTPError  # noqa: E402

AGENT = 1234567890123
TOKEN = "tw1.RECORDED.TOKEN"
recorded = []

MESSAGE = {"id": 7, "author_id": AGENT, "channel": {"agent_id": AGENT, "name": "x"}, "data": {}, "attachments": []}
AGGREGATE = {"data": {}, "attachments": [], "last_updated": None}
CHANNEL = {"name": "x", "owner_id": AGENT, "is_private": False, "aggregate_schema": None, "message_schema": None}


def canned(method, path):
    """Just enough of an answer for the client to parse; tagwire's real answers are tested."""
    if path.startswith("/api/agents/channels/") and path.endswith("/messages"):
        return 200, {"results": [MESSAGE], "count": 1}
    if path.endswith("/channels") and method == "GET":
        return 200, [CHANNEL]
    if "/messages" in path and method == "GET" and path.endswith("/messages"):
        return 200, [MESSAGE]
    if "/messages" in path:
        return 200, MESSAGE
    if path.endswith("/aggregate"):
        return 200, AGGREGATE
    if path.endswith("/aggregates"):
        return 200, {"results": [{"agent_id": AGENT, **AGGREGATE}], "count": 1}
    if path.endswith("/alarms"):
        return 501, {"detail": "recorded", "error": "TAGWIRE_ERR_UNSUPPORTED"}
    if method == "POST":
        return 200, {"id": 99}
    return 200, CHANNEL


class Recorder(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        entry = {
            "method": self.command,
            "path": split.path,
            "query": parse_qsl(split.query, keep_blank_values=True),
            "headers": {
                k.lower(): self.headers[k]
                for k in ("Content-Type", "Content-Encoding", "Authorization", "X-Doover-Organisation")
                if self.headers.get(k) is not None
            },
        }
        if raw:
            if self.headers.get("Content-Encoding") == "gzip":
                entry["body_base64"] = base64.b64encode(raw).decode()
                entry["body_json"] = json.loads(gzip.decompress(raw))
            else:
                entry["body_base64"] = base64.b64encode(raw).decode()
                entry["body_json"] = json.loads(raw)
        recorded.append(entry)
        status, body = canned(self.command, split.path)
        text = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api"
    client = DataClient(base, token=TOKEN, max_retries=1)
    ts = 1767225600000  # 2026-01-01T00:00:00Z
    big = {"temperature": 21.5, "humidity": 40, "state": {"children": {"app": {"mode": "auto"}}}, "note": "x" * 40}
    calls = [
        ("list_channels", "DataClient.list_channels", lambda: client.list_channels(AGENT)),
        ("fetch_channel", "DataClient.fetch_channel", lambda: client.fetch_channel(AGENT, "tag_values")),
        ("create_channel", "DataClient.create_channel", lambda: client.create_channel(AGENT, "tag_values")),
        ("put_channel", "DataClient.put_channel", lambda: client.put_channel(AGENT, "tag_values", is_private=False)),
        ("fetch_channel_aggregate", "DataClient.fetch_channel_aggregate", lambda: client.fetch_channel_aggregate(AGENT, "tag_values")),
        ("update_aggregate_small", "DataClient.update_channel_aggregate",
         lambda: client.update_channel_aggregate(AGENT, "tag_values", {"temperature": 21.5})),
        ("update_aggregate_gzip_log_replace", "DataClient.update_channel_aggregate",
         lambda: client.update_channel_aggregate(AGENT, "tag_values", big, log_update=True, replace_keys=["state.children.app", "note"])),
        ("replace_aggregate_suppressed", "DataClient.update_channel_aggregate",
         lambda: client.update_channel_aggregate(AGENT, "tag_values", {"only": 1}, replace_data=True, suppress_response=True)),
        ("create_message_ts", "DataClient.create_message",
         lambda: client.create_message(AGENT, "events", {"kind": "start", "detail": "pump started by schedule"}, timestamp=ts)),
        ("create_message_with_id", "DataClient.create_message",
         lambda: client.create_message(AGENT, "events", {"kind": "stop"}, message_id=132271570944000037)),
        ("fetch_message", "DataClient.fetch_message", lambda: client.fetch_message(AGENT, "events", 132271570944000037)),
        ("list_messages_range", "DataClient.list_messages",
         lambda: client.list_messages(AGENT, "events", before=datetime(2027, 1, 1, tzinfo=timezone.utc), after=1, limit=10)),
        ("list_messages_fields", "DataClient.list_messages",
         lambda: client.list_messages(AGENT, "events", field_names=["kind"])),
        ("update_message", "DataClient.update_message",
         lambda: client.update_message(AGENT, "events", 132271570944000037, {"kind": "edited"})),
        ("send_notification", "DataClient.send_notification",
         lambda: client.send_notification(AGENT, "Tank level low", title="Tank", severity=6, topic="levels")),
        ("list_alarms", "DataClient.list_alarms", lambda: client.list_alarms(AGENT, "tag_values")),
        ("fetch_multi_agent_messages", "DataClient.fetch_multi_agent_messages",
         lambda: client.fetch_multi_agent_messages("events", [AGENT, 42], after=1, limit=10, agent_message_limit=5)),
        ("fetch_multi_agent_aggregates", "DataClient.fetch_multi_agent_aggregates",
         lambda: client.fetch_multi_agent_aggregates("tag_values", [AGENT, 42])),
    ]
    commit = subprocess.run(["git", "-C", PYDOOVER, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    os.makedirs(OUT, exist_ok=True)
    for name, function, call in calls:
        before = len(recorded)
        outcome = "ok"
        try:
            call()
        except HTTPError as e:
            outcome = f"HTTPError {e.status}"
        for i, request in enumerate(recorded[before:]):
            fixture = {
                "name": name,
                "source": {"repo": "getdoover/pydoover", "commit": commit, "file": "pydoover/api/data/_sync.py", "function": function},
                "client_outcome_against_recorder": outcome,
                "request": request,
            }
            suffix = "" if i == 0 else f"-{i}"
            with open(os.path.join(OUT, f"{name}{suffix}.json"), "w") as f:
                json.dump(fixture, f, indent=2, sort_keys=True)
                f.write("\n")
    client.close()
    server.shutdown()
    print(f"recorded {len(recorded)} requests from pydoover {commit[:12]} into {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
