"""Who takes a course, when, and how much may they use? Cohorts (one run of a course: its
dates, time zone, capacity, invite link), enrollment (by link, by CSV with invitations), a
cohort's people and roles, and each learner's daily quotas."""
