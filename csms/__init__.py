"""OCPP 1.6 / 2.0.1 central system with Smartcar plug-and-charge."""

__version__ = "0.1.0"
