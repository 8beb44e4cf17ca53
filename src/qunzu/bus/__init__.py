"""Event fan-out between processes, behind one Protocol; the URL scheme picks the backend."""

from qunzu.bus.base import EventBus, Handler, Subscription, make_bus

__all__ = ["EventBus", "Handler", "Subscription", "make_bus"]
