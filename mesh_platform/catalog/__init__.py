"""The catalog database: governance and operations state Dagster has no place for.

SQLAlchemy 2.x models with Alembic migrations; a SQLite file under MESH_HOME by default,
PostgreSQL by URL (`MESH_CATALOG_URL`, read in `config/environment.py`).
"""

from mesh_platform.catalog.audit import audit_entries, record_audit
from mesh_platform.catalog.db import Catalog, CatalogUnavailable
from mesh_platform.catalog.models import Alert, AuditEntry, Base, OutboxMessage, QualityResult

__all__ = [
    "Alert",
    "AuditEntry",
    "Base",
    "Catalog",
    "CatalogUnavailable",
    "OutboxMessage",
    "QualityResult",
    "audit_entries",
    "record_audit",
]
