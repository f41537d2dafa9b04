"""Runs kept on disk: the run folder, its schema and checked readers, checkpoints, save/restore, export."""
