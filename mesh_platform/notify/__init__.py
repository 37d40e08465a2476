"""Notifications: alerts recorded in the catalog's outbox, then delivered on their channels.

`Notifier` is the resource (the interface sensors use); channels are the outbox itself
(durable record + log), Slack-compatible webhooks and email.
"""

from mesh_platform.notify.messages import AlertDraft
from mesh_platform.notify.notifier import Notifier

__all__ = ["AlertDraft", "Notifier"]
