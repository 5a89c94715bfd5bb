"""A thin layer over nats-py JetStream: topology, publishing, durable consumers."""

from relay_common.bus.client import Bus, connect_bus
from relay_common.bus.consumer import Consumer, Delivery, RejectMessage, UnknownMessageError

__all__ = [
    "Bus",
    "Consumer",
    "Delivery",
    "RejectMessage",
    "UnknownMessageError",
    "connect_bus",
]
