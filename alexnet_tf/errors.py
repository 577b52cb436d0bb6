"""User-facing errors: each carries one clear line for stderr, never a traceback."""


class UsageError(Exception):
    """Bad input from the user (flags, paths, workdir); ``str(e)`` is the message shown."""


class DataError(UsageError):
    """Missing, empty or corrupt data; ``str(e)`` says what is wrong and how to fix it."""


class TrainingStopped(Exception):
    """Training could not go on (a NaN loss, a lost worker); ``str(e)`` says how to resume."""
