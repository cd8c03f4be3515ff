"""The daemon's worker and the helpers that wake it (clock, sleep, config watch, control socket)."""
