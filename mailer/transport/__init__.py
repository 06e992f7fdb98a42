"""Handing messages to SMTP relays: the `Transport` protocol and its aiosmtplib implementation."""
