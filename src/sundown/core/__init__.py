"""The pure core: the model, the time rules and the decisions.

No I/O; imports nothing of sundown's outside core."""
