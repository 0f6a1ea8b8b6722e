"""What is taught, in what order? Courses, their modules and lessons, and the course folder
format (course.yaml, lessons/*.md, exercises/*.ipynb) that courses are exported to and
imported from, so instructors can keep them in git."""
