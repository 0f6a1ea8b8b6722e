"""What does a learner see and do? Their courses, outlines and lessons, the exercise page
(the student version of the notebook, their draft, attempts and deadlines), and live
notebook sessions: the web's side (requests, events over SSE) and the worker's side that
holds the learner's kernel between requests."""
