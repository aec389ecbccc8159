"""Tests of the custom integrations, laid out as in HA core."""
