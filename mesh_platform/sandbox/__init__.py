"""The sandbox Python steps run in: a forked child with no lake, no landing files, no network.

- `landlock.py`: read-only allow-list of files, no TCP (Landlock, raw system calls).
- `seccomp.py`: no sockets at all (a BPF filter).
- `paths.py`: what the allow-list holds (the Python installation, `mesh_platform`, the step's
  own domain folder), never a folder holding the lake or the landing files.
- `ipc.py`: frames as Arrow IPC files in memfds, messages as JSON records on unix sockets.
- `zygote.py`: the per-process server that forks one child per step; `child.py`: the child.
- `client.py`: the parent's side (`run`), used by `engine/python_steps.py`.

Why this mechanism, and its cost: docs/architecture.md ("Python steps run in a sandbox").
"""
