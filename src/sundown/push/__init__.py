"""Pushing reminders past this desktop (the phone, other machines) through an ntfy server.

Imported only when `[push]` is configured: without it, sundown opens no connection and
loads no HTTP or TLS code. The rules live in `sundown.core.push`; `ntfy` is the adapter.
"""
