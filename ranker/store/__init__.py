"""The store: the one layer that speaks Redis (its keys, scripts and errors), the
embedded engine, and what follows or feeds it (the catalog index, the flusher)."""
