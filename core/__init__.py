"""fitscope's engine: config, data, models and training. Imports torch and numpy, never a UI."""
