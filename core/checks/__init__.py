"""`fitscope check`: the GPU path proved on this machine (blocks, devices, the worker, the CLI)."""
