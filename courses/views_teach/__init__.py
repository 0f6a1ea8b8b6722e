"""Pages for course staff (authoring, grading, analytics) and platform staff (operations).

Every view starts with an access helper from courses.access: instructors edit only their
courses, TAs grade but do not edit, university admins act in their university.
"""
