"""qunzu: a group-chat (群组) service with governance built in."""

__version__ = "0.1.0"
