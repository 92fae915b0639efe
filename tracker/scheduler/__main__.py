"""`python -m tracker.scheduler`: the scheduler child that `tracker serve --with-scheduler` starts."""

from tracker.scheduler.process import main

main()
