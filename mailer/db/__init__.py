"""Persistence: models, engine and session factories, repositories returning plain dataclasses."""
