"""Course environments: the packages a course pins on top of the kernel runtime."""
