"""What a run trains on: the lesson's sampled data, targets, your own data files and their columns."""
