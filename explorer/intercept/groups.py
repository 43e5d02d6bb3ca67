"""The call groups: which system calls each one holds.

A module of its own, with no imports, because the launcher needs it in every child before
the filter is installed, and each import there is paid once per child started.
"""

# Each group's system calls. The filter traps their union; the supervisor then decides per
# call (an open traps for both `paths` and `reads`, and its flags say which group it is in).
GROUPS: dict[str, tuple[str, ...]] = {
    # open/openat/openat2/creat with write or create flags, and every name change
    "paths": (
        "open", "openat", "openat2", "creat",
        "rename", "renameat", "renameat2",
        "unlink", "unlinkat", "rmdir", "mkdir", "mkdirat",
        "link", "linkat", "symlink", "symlinkat",
        "truncate", "ftruncate",
    ),
    "reads": ("open", "openat", "openat2"),  # opens for reading only
    "sync": ("fsync", "fdatasync"),
    "locks": ("fcntl", "flock"),  # fcntl only for its lock commands
    "writes": ("write", "pwrite64", "writev", "pwritev", "pwritev2"),  # on fds above 2
}
DEFAULT_GROUPS: tuple[str, ...] = ("paths", "reads", "sync", "locks")
