"""The learner client module, installed into the sandbox kernel runtime."""
