"""The run's requests and answers as cassettes (`--har PATH`, `--vcr PATH`),
written by schemathesis's own writers (the ones `st run --report har,vcr`
uses) from the recorded scenarios the engine's events already carry: one file
for the whole run, both formats in it. The directed workflows and the state
probe send their requests through contracts/transport.py, outside the
engine: they are in the matrix, not in the cassettes.

The Authorization header is masked as schemathesis masks it, unless the run
shows secrets (--show-secrets).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from schemathesis.config import OutputConfig, SanitizationConfig
from schemathesis.reporting._command import get_command_representation
from schemathesis.reporting.har import HarWriter
from schemathesis.reporting.vcr import VcrWriter

from capmock.contracts.options import Options


class Cassettes(contextlib.ExitStack):
    """The cassette writers a run asked for, open while the run lasts."""

    def __init__(self, options: Options) -> None:
        super().__init__()
        self.writers: list[Any] = []
        self.options = options

    def __enter__(self) -> Cassettes:
        super().__enter__()
        options = self.options
        config = OutputConfig(sanitization=SanitizationConfig(enabled=not options.show_secrets))
        if options.har:
            har = self.enter_context(HarWriter(output=Path(options.har), config=config))
            har.open(seed=options.seed)
            self.writers.append(har)
        if options.vcr:
            vcr = self.enter_context(VcrWriter(output=Path(options.vcr), config=config))
            vcr.open(seed=options.seed, command=get_command_representation(config.sanitization))
            self.writers.append(vcr)
        return self

    def write(self, recorder: Any) -> None:
        """One finished scenario's interactions (schemathesis's ScenarioRecorder)."""
        for writer in self.writers:
            writer.write(recorder)
