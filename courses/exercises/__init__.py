"""What is an exercise, and what are its rules? A notebook (courses.assignment's format)
plus a policy: due dates, hard deadlines, late penalties, attempt limits, each cohort's
overrides and each learner's extension."""
