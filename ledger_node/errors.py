"""Exceptions raised by the chain side. The gateway maps these to HTTP in one place."""


class LedgerError(Exception):
    """Base of every error raised by `ledger_node`; `code` is stable and machine-readable."""

    code = "ledger_error"


class CompilerUnavailable(LedgerError):
    """Neither a native `solc` of the pinned version nor the solcjs stand-in can run."""

    code = "compiler_unavailable"


class ArtifactsStale(LedgerError):
    """The shipped artifacts were not compiled from the current contract sources."""

    code = "artifacts_stale"
