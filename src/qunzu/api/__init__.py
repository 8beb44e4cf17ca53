"""The HTTP and WebSocket API (FastAPI). Routes call services, never storage."""

from qunzu.api.app import create_app

__all__ = ["create_app"]
