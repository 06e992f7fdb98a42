"""Rendering: issue model → compiled e-mail (HTML + text) → personalised bytes. No ORM here."""
