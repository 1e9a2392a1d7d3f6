"""Frivilligbotten: the shared package (knowledge base, lead store, dashboard, channels, command line)."""
