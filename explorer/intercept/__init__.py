"""Checkpoints at an unmodified program's file-system calls (seccomp user notification).

A launcher installs a seccomp filter in the target and hands its listener fd to the
explorer, which holds the chosen calls under the roots until the scheduler releases them.
The modules, by job:

- `groups`: the call groups and their system calls;
- `options`: which calls are held (`SyscallOptions`: roots and call groups);
- `bpf`: the filter program those options compile to;
- `abi`: the kernel's numbers, structs and ioctls (x86_64), through ctypes;
- `memory`: reading a call's path arguments from the target;
- `calls`: what one notification is (call, paths, group);
- `supervisor`: `SyscallSupervisor`, the explorer's end (the `CheckpointServer` shape);
- `launcher`: the program that installs the filter and execs the target;
- `availability`: why the mode cannot work here, if it cannot.

This package stays import-light on purpose: the launcher imports it before the filter is
installed, in every child.
"""
