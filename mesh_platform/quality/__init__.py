"""Quality: a product's rules, its contract and its freshness as Dagster asset checks.

Rules are validated at load (`rules.validate_rules`), declared as check specs on the product's
asset (`rules.check_specs`) and evaluated inside the materialization on the data already in
memory (`evaluate.evaluate_rules`, with Great Expectations imported only then).
"""

from mesh_platform.quality.rules import (
    CONTRACT_CHECK,
    SCHEMA_CHANGE_CHECK,
    check_specs,
    validate_rules,
)

__all__ = ["CONTRACT_CHECK", "SCHEMA_CHANGE_CHECK", "check_specs", "validate_rules"]
