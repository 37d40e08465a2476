"""The text of a Dagster home's dagster.yaml, from the profile's instance template.

No environment is read here (`environment.py` picks the template and the home).
"""

from __future__ import annotations

import json
from pathlib import Path

# Where the embedded template names the instance's own folder: the copy in a Dagster home names
# it by path, so that opening the instance from its folder (`DagsterInstance.from_config`) reads
# that folder's history whatever DAGSTER_HOME says.
HOME_SETTING = "{env: DAGSTER_HOME}"


def rendered(template: str, home: Path) -> str:
    """`template` as the dagster.yaml of the Dagster home `home`."""
    return template.replace(HOME_SETTING, json.dumps(str(home)))


def settings(text: str) -> tuple[str, ...]:
    """The lines of a dagster.yaml that say something (no comment, no blank line, not the
    folder it names): a copy is a template's when these are the template's."""
    lines = (line.rstrip() for line in text.splitlines())
    return tuple(
        line for line in lines
        if line.strip() and not line.lstrip().startswith(("#", "base_dir:"))
    )
