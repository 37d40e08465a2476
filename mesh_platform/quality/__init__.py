"""Quality at run time: a product's rules, contract and schema change as Dagster asset checks.

Rules are validated at load (`compile/rules.py`), declared as check specs on the product's
asset (`checks.check_specs`) and evaluated inside the materialization on the data already in
memory (`evaluate.evaluate_rules`, with Great Expectations imported only then) by the gate.
"""
