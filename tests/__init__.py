"""Tests of this repository's Python code."""
