"""SMS senders for password reset codes (``QUNZU_SMS_SENDER=module:Class``).

The bundled one sends nothing: it writes the message, code included, to the server log.
It is for development only; the settings refuse it in production, and the server says
so at start-up. A deployment plugs in a class with the same ``send`` that calls its SMS
provider.
"""

from __future__ import annotations

import logging

log = logging.getLogger("qunzu.sms")


class LogSmsSender:
    """Writes each message to the log instead of sending it. FOR DEVELOPMENT ONLY."""

    name = "log"
    development_only = True

    async def send(self, phone: str, text: str) -> None:
        log.warning("SMS to %s (not sent: development sender): %s", phone, text)
