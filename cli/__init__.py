"""The command line: the top of the program; nothing below imports it."""
