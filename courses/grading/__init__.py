"""How is a submission graded? The whole life of a submission, read top-down:

views/submissions.py  the learner submits a notebook; the page follows its grading live
services.py           submission_create keeps only the answer cells, writes the row
                      (QUEUED) and enqueues its id on commit; submission_grade claims it
                      (QUEUED → RUNNING, one winner), grades, saves (GRADED | FAILED |
                      ERROR), with the late penalty and a history record
tasks.py              the Celery task: ids in, one service call, the retry policy
pipeline.py           the learner's cells in a fresh sandboxed kernel (kernels.py), the
                      tests in a fresh trusted process (sandbox.trusted)
scoring.py            outcomes → points and messages; pure, tested without a database

Beside it: marking by hand (marking.py), validating an exercise before learners see it
(validation.py), what the learner gets back (feedback.py), the gradebook and analytics
(gradebook.py), live progress (progress.py) and the operations page's figures
(operations.py).
"""
