"""The marketplace's subscribe-and-access commands: subscribe, approve, deny, revoke, audit,
grants, domains."""

from __future__ import annotations
