"""Who drives a Run: the Driver contract, a thread driver, the worker process and its driver, the tracker."""
