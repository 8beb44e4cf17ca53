"""Persistence: SQLAlchemy 2 Core tables, repositories and the unit of work."""
