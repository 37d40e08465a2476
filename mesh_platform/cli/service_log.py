"""What `mesh up` shows of its Dagster children: everything goes to a log file, the terminal
gets warnings and errors only (all with --verbose), and nothing once the service is stopping.

The run workers the daemon launches (automation, freshness checks) log every step at DEBUG to
the console they inherit; in a service that is noise (the UI has each run's log), and a run
interrupted by Ctrl-C prints a stack trace that is shutdown, not a fault.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import IO

# A Dagster log record starts with its timestamp; the lines after it (a stack trace) belong to it.
_RECORD = re.compile(rb"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")
_CHATTER = re.compile(rb" - (DEBUG|INFO) - ")


class ServiceLog(threading.Thread):
    """Copies a child's output to `path`, and the records worth seeing to the terminal."""

    def __init__(self, source: IO[bytes], path: Path, verbose: bool) -> None:
        super().__init__(name="mesh-up-log", daemon=True)
        self._source = source
        self.path = path
        self._verbose = verbose
        self._quiet = threading.Event()

    def quiet(self) -> None:
        """From now on, the log file only (the service is stopping)."""
        self._quiet.set()

    def shows(self, record_start: bytes) -> bool:
        """Whether a record starting with this line goes to the terminal."""
        return self._verbose or not (_RECORD.match(record_start) and _CHATTER.search(record_start))

    def run(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        showing = True
        with self.path.open("ab") as log:
            for line in iter(self._source.readline, b""):
                log.write(line)
                log.flush()
                if _RECORD.match(line):
                    showing = self.shows(line)
                if showing and not self._quiet.is_set():
                    sys.stdout.buffer.write(line)
                    sys.stdout.buffer.flush()
