"""Another system subscribing to Relay's lead events with nats-py: a runnable example.

    NATS_URL=nats://127.0.0.1:4222 python docs/examples/subscribe_leads.py --durable my-crm

It creates (or resumes) a durable consumer on the LEADS stream, so events published
while it was away are delivered when it comes back, and acks each event after handling
it. Only nats-py is needed; the payload schemas are in docs/contract/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durable", default="example-crm", help="Consumer name to resume.")
    parser.add_argument("--workspace", default="*", help="One workspace id, or * for all.")
    parser.add_argument("--max", type=int, default=0, help="Stop after this many (0: never).")
    args = parser.parse_args()

    prefix = os.environ.get("RELAY_BUS_PREFIX", "relay")
    nc = await nats.connect(os.environ.get("NATS_URL", "nats://127.0.0.1:4222"))
    js = nc.jetstream()
    # Every lead event of the chosen workspace(s), every bot: lead.<name>.v1.<ws>.<bot>
    subject = f"{prefix}.lead.*.v1.{args.workspace}.*"
    sub = await js.pull_subscribe(
        subject,
        durable=args.durable,
        stream=f"{prefix.upper()}_LEADS",
        config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
    )
    handled = 0
    try:
        while not args.max or handled < args.max:
            try:
                messages = await sub.fetch(batch=10, timeout=5)
            except NatsTimeout:
                continue
            for msg in messages:
                event = json.loads(msg.data)
                kind = msg.subject.split(".")[2]  # created, message, qualified, ...
                print(json.dumps({"event": kind, "lead_id": event["lead_id"], "payload": event}))
                await msg.ack()
                handled += 1
    finally:
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main())
