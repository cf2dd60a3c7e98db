"""Helpers the tests share that are not fixtures: servers they start."""
