"""sundown: an evening wind-down reminder daemon."""

__version__ = "0.1.0"
