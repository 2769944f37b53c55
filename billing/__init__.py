"""Pure pricing and checking: tariffs, session energy, SoC cross-check, invoices.

Imports neither ``csms`` nor ``smartcar_bridge``. Filled in by the billing issue.
"""
