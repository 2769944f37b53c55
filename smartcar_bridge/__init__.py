"""Async Smartcar API client, OAuth Connect flow and token storage.

Imports neither ``csms`` nor ``billing``. Filled in by the Smartcar issue.
"""
