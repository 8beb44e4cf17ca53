"""The qunzu Python SDK: an async HTTP client and a resumable event stream."""

from qunzu.client.http import QunzuAPIError, QunzuClient
from qunzu.client.stream import EventStream, SessionEnded, StreamClosed

__all__ = ["EventStream", "QunzuAPIError", "QunzuClient", "SessionEnded", "StreamClosed"]
