"""Command lines a household types (`make schedule`, `make history`): a mistyped option or value is one
line naming it, not argparse's usage block (`--help` shows that)."""

import argparse


class OneLineParser(argparse.ArgumentParser):
    """argparse, its errors one line: `<name>: <what is wrong> (see <prog> --help)`, exit status 2."""

    def __init__(self, name, **kwargs):
        super().__init__(**kwargs)
        self.name = name

    def error(self, message):
        self.exit(2, "%s: %s (see %s --help)\n" % (self.name, message, self.prog))
