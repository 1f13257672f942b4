"""Three-phase email analysis (queue `email-processing`, job `process-emails`): rules, then an LLM
through Ollama, then a larger LLM for complete conversation chains; results in SQLite."""

from pathlib import Path

from workers.email.native import guard

# The shipped catalogues. Named here, not from each module's __file__: in a module compiled by mypyc
# (workers/email/native.py) __file__ does not name the module's own directory.
CATALOGUES = Path(__file__).resolve().parent / "catalogues"

guard()  # before any compiled module is imported: a stale build runs as the sources (workers/email/native.py)
