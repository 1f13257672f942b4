"""Processors that ship with corral."""
