"""Subscribers: the audience side (federations, organisations, lists, segments)."""
