"""Newsletter issues: the source format and the typed model it parses into."""
