"""Links users send: which addresses may be reached, the guarded fetch, and what a file is by its
first bytes."""
