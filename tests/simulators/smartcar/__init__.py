"""Tests of the Smartcar simulator over real loopback HTTP."""
