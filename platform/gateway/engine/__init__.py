"""llama.cpp's server run as a managed child of the gateway (from the prebuilt xllamacpp
wheel), on a unix socket in a private folder that only the gateway can reach.

Nothing here imports Django at module level in `child` and `files`: the child process
imports only xllamacpp.
"""
