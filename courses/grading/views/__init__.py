"""Grading's pages: what a learner sees of a submission (submissions), what course staff do
with them (staff), and what platform staff watch (operations)."""
