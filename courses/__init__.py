"""Courses: one Django app (one models.py, one migrations/), organised by the question each
package answers. Each package imports only those below it (import-linter checks it):

demo/        what does a new installation show?
learn/       what does a learner see and do? (pages, drafts, live notebook sessions)
grading/     how is a submission graded? (read top-down: views → services → tasks →
             pipeline → scoring)
exercises/   what is an exercise, and what are its rules? (deadlines, attempts, overrides)
catalog/     what is taught, in what order? (courses, modules, lessons, course folders)
cohorts/     who takes a course, when, and how much may they use?
access.py    who may see this?
html.py      is this HTML safe?   sse.py  the one Redis → Server-Sent Events relay
queues.py    which task, on which queue? (services enqueue by name; nothing imports tasks)
assignment/  what is in an nbgrader or otter notebook? (pure, no Django)
models.py    the tables
"""
