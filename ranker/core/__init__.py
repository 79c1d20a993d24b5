"""The core: what Ranker computes, pure and with the time passed in; no I/O."""
