"""The web app: server-rendered pages for members, owners and admins (docs/web.md).

An entry point like the API: pages call services, never storage. ``qunzu.web.app.mount_web``
adds it to the app ``qunzu.api.create_app`` builds. Modules here import ``qunzu.api`` only
inside functions (web/app.py aside), since the API imports this package while it loads.
"""
