__version__ = "0.1.0"
# Runs saved by a version with a different format version cannot be loaded by this one.
RUN_FORMAT_VERSION = 1
