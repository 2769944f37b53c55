"""Tests of the simulators (they talk to the central system only over the wire)."""
