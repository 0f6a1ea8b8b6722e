"""Instructor tools: writes for authoring courses, exercises, grading by hand, and the
course folder format. Views, commands and tasks call these; nothing here renders pages."""
