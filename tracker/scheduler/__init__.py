"""The deadline scheduler: the list of periodic jobs and the runner that keeps them going."""
