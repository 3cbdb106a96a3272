"""Thin absl-flags programs: each parses flags, builds a typed config and calls the library."""
