#!/usr/bin/env python3
"""Drive pydoover's own DataClient against a running tagwire hub and check what it gets back.

    /usr/bin/python3 scripts/golden/pydoover_http_live.py /tmp/pydoover-api http://127.0.0.1:8080/api TOKEN AGENT_ID

Exits non-zero on the first mismatch. Used by hand (docs/DOOVER.md, "Proof").
"""
import sys
from datetime import datetime, timezone

sys.path.insert(0, sys.argv[1])
from pydoover.api import DataClient  # noqa: E402
from pydoover.models.data.exceptions import HTTPError, NotFoundError  # noqa: E402

base, token, agent = sys.argv[2], sys.argv[3], sys.argv[4]
c = DataClient(base, token=token, max_retries=1)


def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        sys.exit(1)


try:
    c.fetch_channel_aggregate(agent, "tag_values")
    check("missing aggregate is NotFoundError", False)
except NotFoundError:
    check("missing aggregate is NotFoundError", True)
cid = c.create_channel(agent, "tag_values")
check(f"create_channel returns an int id ({cid})", isinstance(cid, int))
agg = c.update_channel_aggregate(agent, "tag_values", {"temperature": 21.5, "state": {"children": {"app": {"a": 1, "b": 2}}}})
check("merge returns the aggregate", agg.data["temperature"] == 21.5)
agg = c.update_channel_aggregate(agent, "tag_values", {"state": {"children": {"app": {"c": 3}}}, "pad": "x" * 60}, replace_keys=["state.children.app"], log_update=True)
check("replace_keys swaps the subtree (gzip body)", agg.data["state"]["children"]["app"] == {"c": 3})
none = c.update_channel_aggregate(agent, "tag_values", {"humidity": 40}, suppress_response=True)
check("suppress_response returns None", none is None)
agg = c.fetch_channel_aggregate(agent, "tag_values")
check("fetch sees the merge", agg.data["humidity"] == 40 and agg.last_updated is not None)
ch = c.fetch_channel(agent, "tag_values")
check("fetch_channel has owner and aggregate", ch.owner_id == int(agent) and ch.aggregate.data["humidity"] == 40)
chans = c.list_channels(agent)
check("list_channels lists Channel objects", "tag_values" in [x.name for x in chans])
ts = datetime(2026, 3, 1, tzinfo=timezone.utc)
m = c.create_message(agent, "events", {"kind": "start", "detail": "pump started by the schedule"}, timestamp=ts)
check(f"create_message id {m.id} carries the ts", m.timestamp == ts and m.author_id == int(agent))
m2 = c.create_message(agent, "events", {"kind": "stop"})
one = c.fetch_message(agent, "events", m.id)
check("fetch_message by snowflake", one.id == m.id and one.data["kind"] == "start")
msgs = c.list_messages(agent, "events", limit=10)
check("list_messages newest first", [x.id for x in msgs][:2] == [m2.id, m.id])
only = c.list_messages(agent, "events", field_names=["kind"], limit=1)
check("field_names picks fields", only[0].data == {"kind": "stop"})
after = c.list_messages(agent, "events", after=m.id)
check("after= excludes older ids", [x.id for x in after] == [m2.id])
pages = c.iter_messages(agent, "events", page_size=1).collect()
check("iter_messages pages backwards one by one", [x.id for x in pages] == [m2.id, m.id])
n = c.send_notification(agent, "Tank low", title="Tank", severity=6)
check("send_notification creates a message", n.channel.name == "notifications")
logged = c.list_messages(agent, "tag_values")
check("log_update logged the update", len(logged) == 1)
try:
    c.list_alarms(agent, "tag_values")
    check("alarms answer 501", False)
except HTTPError as e:
    check("alarms answer 501", e.status == 501)
bad = DataClient(base, token="tw1.bad.token", max_retries=1)
try:
    bad.list_channels(agent)
    check("a bad token is 401", False)
except HTTPError as e:
    check("a bad token is 401", e.status == 401)


async def async_checks():
    from pydoover.api import AsyncDataClient

    async with AsyncDataClient(base, token=token, max_retries=1) as ac:
        agg = await ac.update_channel_aggregate(agent, "async", {"x": 1, "pad": "y" * 80}, log_update=True)
        check("AsyncDataClient merges (gzip via aiohttp)", agg.data["x"] == 1)
        am = await ac.create_message(agent, "async", {"k": 1})
        check("AsyncDataClient creates and fetches a message", (await ac.fetch_message(agent, "async", am.id)).data == {"k": 1})


import asyncio  # noqa: E402

asyncio.run(async_checks())
print("all pydoover DataClient checks passed")
