"""Background jobs: a huey queue chosen by settings, the task registry, the worker and the sweep."""
