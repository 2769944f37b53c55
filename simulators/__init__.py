"""Simulators that talk to the central system from outside, like real peers.

Nothing here imports ``csms``, ``billing`` or ``smartcar_bridge``.
"""
