"""What does a new installation show? The demo university, its accounts (student,
instructor, admin) and its courses, loaded by `make run` (manage.py seed_demo)."""
