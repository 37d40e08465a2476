"""The marketplace's subscribe-and-access commands: subscribe, approve, deny, revoke, audit,
domains."""

from __future__ import annotations
