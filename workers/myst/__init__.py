"""MYST journal submission builds: a GitHub repository holding a MyST article, built and uploaded."""
