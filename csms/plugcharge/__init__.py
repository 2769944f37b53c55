"""Plug-and-charge: recognise the plugged-in car, drive its session, bill its driver."""
