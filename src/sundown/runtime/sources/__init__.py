"""The person's context: one module per source behind one protocol (`source.Source`), and the
aggregate the daemon asks (`watch.ContextWatch`). docs/context.md says what each source tells."""

from __future__ import annotations

from sundown.runtime.sources.watch import ContextWatch, context_at, context_status

__all__ = ["ContextWatch", "context_at", "context_status"]
