"""Tests of the Tesla Sync integration."""
