"""Home page blocks, usage recording and the adoption evaluation (issue 19)."""
